#include "lab/commands.h"

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "lab/lab.h"
#include "lab/processes.h"
#include "lab/traffic.h"

namespace podnet::lab {
namespace {

class LabCommands : public Commands {
 public:
  explicit LabCommands(CLI::App& app) {
    lab_ = app.add_subcommand("lab", "A multi-node podnet cluster on this machine (needs root)");
    lab_->require_subcommand(1);
    if (const char* env = std::getenv("PODNET_LAB_NAME"); env != nullptr && *env != '\0') {
      name_ = env;
    }
    // Hidden: a second lab beside the default one (the tests use their own).
    lab_->add_option("--lab-name", name_, "")->group("");

    up_ = lab_->add_subcommand("up", "Build the lab: underlay, nodes, etcd, agents, controller");
    up_->add_option("--nodes", up_options_.nodes, "Number of nodes (n1..nN)")
        ->capture_default_str();
    up_->add_option("--backend", backend_, "Between nodes: " + enumChoices(kBackendNames))
        ->capture_default_str();
    up_->add_flag("--fast-path", up_options_.fastPath,
                  "Agents forward pod traffic from their tc programs (podnetd --fast-path)");
    down_ = lab_->add_subcommand("down", "Remove everything the lab made (always safe to run)");
    status_ = lab_->add_subcommand("status", "Nodes, pods and process health");

    auto* ns = lab_->add_subcommand("ns", "Namespaces");
    ns->require_subcommand(1);
    ns_add_ = ns->add_subcommand("add", "Create a Namespace object");
    ns_add_->add_option("name", ns_name_, "Namespace name")->required();
    ns_add_->add_option("--labels", labels_, "k=v,k2=v2");

    auto* pod = lab_->add_subcommand("pod", "Pods");
    pod->require_subcommand(1);
    pod_add_ = pod->add_subcommand("add", "Create a pod through the CNI plugin, with a server");
    pod_add_->add_option("pod", pod_, "NAMESPACE/NAME")->required();
    pod_add_->add_option("--node", node_, "Node to run on (n1..nN)")->required();
    pod_add_->add_option("--labels", labels_, "k=v,k2=v2");
    pod_label_ = pod->add_subcommand("label", "Set (k=v) or remove (k-) labels of a pod");
    pod_label_->add_option("pod", pod_, "NAMESPACE/NAME")->required();
    pod_label_->add_option("labels", label_changes_, "k=v or k-")->required();
    pod_del_ = pod->add_subcommand("del", "Remove a pod through CNI DEL");
    pod_del_->alias("delete");
    pod_del_->add_option("pod", pod_, "NAMESPACE/NAME")->required();

    stop_ = lab_->add_subcommand("stop", "Stop etcd, the controller or a node's podnetd");
    stop_->add_option("component", component_, "etcd, controller or a node (n1..nN)")->required();
    stop_->add_flag("--kill", kill_, "SIGKILL, as a crash (default: SIGTERM)");
    start_ = lab_->add_subcommand("start", "Start a stopped etcd, controller or podnetd again");
    start_->add_option("component", component_, "etcd, controller or a node (n1..nN)")->required();

    exec_ = lab_->add_subcommand("exec", "Run a command in a pod's or a node's network namespace");
    exec_->add_option("target", target_, "NAMESPACE/NAME or a node (n1..nN)")->required();
    exec_->add_option("command", command_, "The command, after --")->required();

    probe_ = lab_->add_subcommand(
        "probe", "Print connected or blocked (exit 0 or 1) for one connection or request");
    probe_->add_option("from", from_, "A pod (NAMESPACE/NAME) or node")->required();
    probe_->add_option("to", to_, "A pod, a node or an IPv4 address")->required();
    probe_->add_option("--port", port_, "Destination port")->required();
    probe_->add_option("--proto", protocol_, "tcp, udp or sctp")
        ->check(CLI::IsMember({"tcp", "udp", "sctp"}))
        ->capture_default_str();
    probe_->add_option("--timeout-ms", timeout_ms_, "How long to wait")
        ->check(CLI::Range(1, 600000))
        ->capture_default_str();

    // Hidden: the server every pod and node runs.
    serve_ = lab_->add_subcommand("serve", "");
    serve_->group("");
    serve_->add_option("--who", who_, "");
    serve_->add_option("--ready-file", ready_file_, "");
  }

  std::optional<int> run() override {
    if (!*lab_) return std::nullopt;
    if (*serve_) {
      auto st = serve(who_, ready_file_);
      std::cerr << "podnetctl lab serve: " << st.error().message << "\n";
      return 1;
    }
    auto layout = Layout::make(name_);
    if (!layout) return fail(layout.error());
    Lab lab(*layout, selfDirectory());
    if (*up_) {
      auto backend = parseEnum(kBackendNames, backend_, "--backend");
      if (!backend) return fail(backend.error());
      up_options_.backend = *backend;
      return report(lab.up(up_options_, std::cout));
    }
    if (*down_) return report(lab.down(std::cout));
    if (*status_) return report(lab.status(std::cout));
    if (*ns_add_) {
      auto labels = parseLabels(labels_);
      if (!labels) return fail(labels.error());
      return report(lab.addNamespace(ns_name_, *labels), "namespace " + ns_name_ + " created");
    }
    if (*pod_add_ || *pod_label_ || *pod_del_) {
      auto ref = parsePodRef(pod_);
      if (!ref) return fail(ref.error());
      if (*pod_label_)
        return report(lab.labelPod(*ref, label_changes_), "pod " + pod_ + " labeled");
      if (*pod_del_) return report(lab.deletePod(*ref), "pod " + pod_ + " deleted");
      auto labels = parseLabels(labels_);
      if (!labels) return fail(labels.error());
      return report(lab.addPod(*ref, node_, *labels), "pod " + pod_ + " created on " + node_);
    }
    if (*stop_) {
      return report(lab.stopComponent(component_, kill_), component_ + " stopped");
    }
    if (*start_) return report(lab.startComponent(component_, std::cout), component_ + " started");
    if (*exec_) {
      if (auto netns = lab.netnsOf(target_); !netns) return fail(netns.error());
      auto error = lab.exec(target_, command_);
      fail(error);
      return error.code == Errc::kNotFound ? 127 : 126;
    }
    if (*probe_) {
      auto protocol = parseProtocol(protocol_);
      if (!protocol) return fail(protocol.error(), 2);
      auto connected =
          lab.probe(from_, to_, port_, *protocol, std::chrono::milliseconds(timeout_ms_));
      if (!connected) return fail(connected.error(), 2);
      std::cout << (*connected ? "connected" : "blocked") << "\n";
      return *connected ? 0 : 1;
    }
    return 0;
  }

 private:
  static int fail(const Error& error, int code = 1) {
    std::cerr << "podnetctl lab: " << error.message << "\n";
    return code;
  }
  static int report(const Status& st, const std::string& done = "") {
    if (!st) return fail(st.error());
    if (!done.empty()) std::cout << done << "\n";
    return 0;
  }

  CLI::App* lab_ = nullptr;
  CLI::App *up_ = nullptr, *down_ = nullptr, *status_ = nullptr, *ns_add_ = nullptr;
  CLI::App *pod_add_ = nullptr, *pod_label_ = nullptr, *pod_del_ = nullptr;
  CLI::App *exec_ = nullptr, *probe_ = nullptr, *serve_ = nullptr;
  CLI::App *stop_ = nullptr, *start_ = nullptr;
  std::string component_;
  bool kill_ = false;
  std::string name_ = kDefaultLabName;
  UpOptions up_options_;
  std::string backend_{backendName(up_options_.backend)};
  std::string ns_name_, labels_, pod_, node_, target_, from_, to_, who_ = "lab", ready_file_;
  std::vector<std::string> label_changes_, command_;
  uint16_t port_ = 0;
  std::string protocol_ = "tcp";
  int timeout_ms_ = 2000;
};

}  // namespace

std::unique_ptr<Commands> addCommands(CLI::App& app) {
  return std::make_unique<LabCommands>(app);
}

}  // namespace podnet::lab
