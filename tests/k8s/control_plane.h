// A real Kubernetes control plane for tests: etcd 3.6 and kube-apiserver from the cache that
// scripts/k8s-tools.sh fills, on loopback with free ports, with a CA, serving and client
// certificates and service-account keys generated (openssl) in a fresh directory. RBAC is on;
// the admin is a client certificate in group system:masters, "nobody" one without any rights.
// The watch cache is off for podtemplates, so that a watch of them from a compacted revision is
// answered by etcd's 410, as without the cache.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "k8s/client.h"
#include "k8s/config.h"
#include "store/etcd_store.h"
#include "support/child_process.h"
#include "support/free_port.h"
#include "support/temp_dir.h"

namespace podnet::testing {

// The folder holding the binaries: $PODNET_K8S_TOOLS, else what scripts/k8s-tools.sh --dir
// printed when the build was configured.
inline std::string k8sToolsDir() {
  const char* env = std::getenv("PODNET_K8S_TOOLS");
  return env != nullptr && *env != '\0' ? env : PODNET_K8S_TOOLS_DIR;
}

// Empty when every binary is there; else what is missing and how to build it.
inline std::string missingK8sTools() {
  for (const char* name : {"etcd", "kube-apiserver"}) {
    std::string path = k8sToolsDir() + "/" + name;
    if (::access(path.c_str(), X_OK) != 0) {
      return path +
             " is missing: run scripts/k8s-tools.sh (scripts/test.sh does) to build the "
             "Kubernetes tools";
    }
  }
  return "";
}

class ControlPlane {
 public:
  // Starts etcd and the API server and waits until the API server is ready; on failure, ok() is
  // false and the reason (with the log to read) is in error().
  ControlPlane()
      : etcdPort_(freeLoopbackPort()),
        etcdPeerPort_(freeLoopbackPort()),
        apiPort_(freeLoopbackPort()) {
    if (!makeCertificates()) return;
    writeKubeconfig("admin", "admin.kubeconfig");
    writeKubeconfig("nobody", "nobody.kubeconfig");
    if (!startEtcd()) return;
    startApiServer();
  }
  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  const std::string& dir() const { return dir_.path(); }
  int apiPort() const { return apiPort_; }
  std::string server() const { return "https://127.0.0.1:" + std::to_string(apiPort_); }
  std::string etcdEndpoint() const { return "127.0.0.1:" + std::to_string(etcdPort_); }

  // A kubeconfig for "admin" (system:masters) or "nobody" (no rights), with relative file names.
  std::string kubeconfig(const std::string& user) const {
    return dir() + "/" + user + ".kubeconfig";
  }
  // A client configuration for user, as loaded from its kubeconfig.
  k8s::ClientConfig config(const std::string& user) const {
    auto out = k8s::loadKubeconfig(kubeconfig(user));
    EXPECT_TRUE(out.ok()) << out.error().message;
    return out.ok() ? *out : k8s::ClientConfig{};
  }

  // SIGKILL, as a crash.
  void killApiServer() { apiServer_.kill(); }
  // Starts the API server again on the same port and etcd; true once it is ready.
  bool startApiServer() {
    std::string tools = k8sToolsDir();
    std::vector<std::string> args{
        tools + "/kube-apiserver",
        "--etcd-servers=http://" + etcdEndpoint(),
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        "--secure-port=" + std::to_string(apiPort_),
        "--cert-dir=" + dir() + "/apiserver",
        "--tls-cert-file=" + dir() + "/server.crt",
        "--tls-private-key-file=" + dir() + "/server.key",
        "--client-ca-file=" + dir() + "/ca.crt",
        "--authorization-mode=RBAC",
        "--service-cluster-ip-range=10.96.0.0/24",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        "--service-account-key-file=" + dir() + "/sa.key",
        "--service-account-signing-key-file=" + dir() + "/sa.key",
        "--allow-privileged=true",
        "--endpoint-reconciler-type=none",
        "--enable-priority-and-fairness=false",
        "--watch-cache-sizes=podtemplates#0",
    };
    apiServer_.start(args, dir() + "/kube-apiserver.log");
    return waitReady();
  }

  // Compacts etcd's history up to its current revision: watches from any earlier
  // resourceVersion that reach etcd are then answered 410 Gone.
  bool compactEtcd() {
    auto store = store::EtcdStore::connect({etcdEndpoint()}, std::chrono::seconds(5));
    if (!store) return fail("etcd: " + store.error().message);
    auto revision = (*store)->revision();
    if (!revision) return fail("etcd revision: " + revision.error().message);
    auto compacted = (*store)->compact(*revision);
    if (!compacted) return fail("etcd compact: " + compacted.error().message);
    return true;
  }

 private:
  bool fail(const std::string& what) {
    error_ = what;
    return false;
  }

  bool run(const std::string& command) {
    std::string line = "cd " + dir() + " && " + command + " >>openssl.log 2>&1";
    return std::system(line.c_str()) == 0 ||
           fail("failed: " + command + " (see " + dir() + "/openssl.log)");
  }

  bool makeCertificates() {
    const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    auto sign = [&](const std::string& name, const std::string& subject, const std::string& ext) {
      return run("openssl req " + ec + " -keyout " + name + ".key -out " + name + ".csr -subj '" +
                 subject + "'" + ext) &&
             run("openssl x509 -req -in " + name +
                 ".csr -CA ca.crt -CAkey ca.key -CAcreateserial "
                 "-days 2 -copy_extensions copy -out " +
                 name + ".crt");
    };
    return run("openssl req -x509 " + ec +
               " -keyout ca.key -out ca.crt -days 2 -subj /CN=podnet-test-ca") &&
           sign("server", "/CN=kube-apiserver", " -addext subjectAltName=IP:127.0.0.1") &&
           sign("admin", "/O=system:masters/CN=podnet-test-admin", "") &&
           sign("nobody", "/CN=nobody", "") &&
           run("openssl ecparam -name prime256v1 -genkey -noout -out sa.key");
  }

  void writeKubeconfig(const std::string& user, const std::string& file) const {
    std::ofstream out(dir() + "/" + file);
    out << "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
        << "clusters:\n- name: test\n  cluster:\n    server: " << server()
        << "\n    certificate-authority: ca.crt\n"
        << "contexts:\n- name: test\n  context:\n    cluster: test\n    user: " << user << "\n"
        << "users:\n- name: " << user << "\n  user:\n    client-certificate: " << user
        << ".crt\n    client-key: " << user << ".key\n";
  }

  bool startEtcd() {
    std::string client = "http://" + etcdEndpoint();
    std::string peer = "http://127.0.0.1:" + std::to_string(etcdPeerPort_);
    etcd_.start({k8sToolsDir() + "/etcd", "--name=default", "--data-dir=" + dir() + "/etcd",
                 "--listen-client-urls=" + client, "--advertise-client-urls=" + client,
                 "--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer,
                 "--initial-cluster=default=" + peer, "--unsafe-no-fsync", "--log-level=warn"},
                dir() + "/etcd.log");
    for (int i = 0; i < 60; ++i) {
      if (!etcd_.running()) return fail("etcd exited at start; see " + dir() + "/etcd.log");
      if (store::EtcdStore::connect({etcdEndpoint()}, std::chrono::milliseconds(500))) return true;
    }
    return fail("etcd did not serve within 30 s; see " + dir() + "/etcd.log");
  }

  // Ready: /readyz answers 200 and the default namespace exists (as envtest waits).
  bool waitReady() {
    k8s::ClientConfig admin;
    admin.server = server();
    admin.ca.file = dir() + "/ca.crt";
    admin.clientCert.file = dir() + "/admin.crt";
    admin.clientKey.file = dir() + "/admin.key";
    k8s::Client client(admin);
    // Generous: five other engineers' builds share the two cores.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(180);
    while (std::chrono::steady_clock::now() < deadline) {
      if (!apiServer_.running()) {
        return fail("kube-apiserver exited; see " + dir() + "/kube-apiserver.log");
      }
      auto ready = client.send("GET", "/readyz");
      if (ready && ready->status == 200 && client.get("/api/v1/namespaces/default")) {
        error_.clear();
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return fail("kube-apiserver not ready within 180 s; see " + dir() + "/kube-apiserver.log");
  }

  TempDir dir_;  // first member: removed after the servers are killed
  int etcdPort_;
  int etcdPeerPort_;
  int apiPort_;
  ChildProcess etcd_;
  ChildProcess apiServer_;
  std::string error_;
};

}  // namespace podnet::testing
