#include "lab/state.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace podnet::lab {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json processJson(const ProcessRecord& p) {
  return {{"role", p.role}, {"pid", p.pid}, {"startTime", p.startTime}};
}

// j[key], or an empty value when absent (no temporaries to iterate over).
const json& member(const json& j, const char* key) {
  static const json kNone;
  auto it = j.find(key);
  return it == j.end() ? kNone : *it;
}

ProcessRecord processFromJson(const json& j) {
  return {j.value("role", ""), j.value("pid", -1), j.value("startTime", uint64_t{0})};
}

}  // namespace

std::vector<std::string> LabState::nodeNames() const {
  std::vector<std::string> out;
  for (int i = 1; i <= nodes; ++i) out.push_back(Layout::nodeName(i));
  return out;
}

bool LabState::hasNode(const std::string& node) const {
  for (const auto& n : nodeNames()) {
    if (n == node) return true;
  }
  return false;
}

std::vector<ProcessRecord> LabState::allProcesses() const {
  std::vector<ProcessRecord> out = processes;
  for (const auto& [key, pod] : pods) {
    if (pod.server) out.push_back(*pod.server);
  }
  return out;
}

const ProcessRecord* LabState::process(const std::string& role) const {
  for (const auto& p : processes) {
    if (p.role == role) return &p;
  }
  return nullptr;
}

nlohmann::json toJson(const LabState& s) {
  json processes = json::array();
  for (const auto& p : s.processes) processes.push_back(processJson(p));
  json pods = json::object();
  for (const auto& [key, p] : s.pods) {
    json ports = json::array();
    for (const auto& port : p.ports) {
      ports.push_back(
          {{"name", port.name}, {"port", port.containerPort}, {"protocol", port.protocol}});
    }
    json pod = {{"namespace", p.namespace_},
                {"name", p.name},
                {"node", p.node},
                {"uid", p.uid},
                {"containerId", p.containerId},
                {"netns", p.netns},
                {"ip", p.ip},
                {"labels", p.labels},
                {"ports", ports}};
    if (p.server) pod["server"] = processJson(*p.server);
    pods[key] = pod;
  }
  json namespaces = json::object();
  for (const auto& [name, labels] : s.namespaces) namespaces[name] = labels;
  return {{"nodes", s.nodes},       {"backend", backendName(s.backend)}, {"fastPath", s.fastPath},
          {"processes", processes}, {"namespaces", namespaces},          {"pods", pods}};
}

Result<LabState> stateFromJson(const nlohmann::json& j) {
  try {
    LabState s;
    s.nodes = j.at("nodes").get<int>();
    auto backend = parseEnum(kBackendNames, j.value("backend", ""), "backend");
    if (!backend) return backend.error();
    s.backend = *backend;
    s.fastPath = j.value("fastPath", false);
    for (const auto& p : member(j, "processes")) {
      s.processes.push_back(processFromJson(p));
    }
    for (const auto& [name, labels] : member(j, "namespaces").items()) {
      s.namespaces[name] = labels.get<model::Labels>();
    }
    for (const auto& [key, p] : member(j, "pods").items()) {
      PodRecord pod;
      pod.namespace_ = p.at("namespace").get<std::string>();
      pod.name = p.at("name").get<std::string>();
      pod.node = p.value("node", "");
      pod.uid = p.value("uid", "");
      pod.containerId = p.value("containerId", "");
      pod.netns = p.value("netns", "");
      pod.ip = p.value("ip", "");
      pod.labels = p.value("labels", model::Labels{});
      for (const auto& port : member(p, "ports")) {
        pod.ports.push_back({port.value("name", ""), port.value("port", uint16_t{0}),
                             port.value("protocol", "TCP")});
      }
      if (p.contains("server")) pod.server = processFromJson(p["server"]);
      s.pods[key] = std::move(pod);
    }
    return s;
  } catch (const json::exception& e) {
    return makeError(Errc::kDecode, e.what());
  }
}

Result<std::optional<LabState>> loadState(const Layout& layout) {
  std::ifstream in(layout.stateFile());
  if (!in) return std::optional<LabState>();
  std::stringstream text;
  text << in.rdbuf();
  auto j = json::parse(text.str(), nullptr, false);
  auto what = "lab state " + layout.stateFile();
  if (j.is_discarded()) {
    return makeError(Errc::kDecode, what + ": not JSON (run `podnetctl lab down` to start over)");
  }
  auto state = stateFromJson(j);
  if (!state) return state.error().context(what);
  return std::optional<LabState>(std::move(*state));
}

Status saveState(const Layout& layout, const LabState& state) {
  const std::string path = layout.stateFile();
  const std::string tmp = path + ".tmp";
  std::error_code ec;
  fs::create_directories(layout.runDir(), ec);
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << toJson(state).dump(2) << "\n";
    out.flush();
    if (!out) return makeError(Errc::kIo, "lab state " + tmp + ": cannot write");
  }
  fs::rename(tmp, path, ec);
  if (ec) return makeError(Errc::kIo, "lab state " + path + ": rename: " + ec.message());
  return okStatus();
}

Result<StateLock> StateLock::acquire(const Layout& layout) {
  std::error_code ec;
  fs::create_directories(layout.runDir(), ec);
  if (ec) return makeError(Errc::kIo, "lab directory " + layout.runDir() + ": " + ec.message());
  UniqueFd fd(::open(layout.lockFile().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    return makeError(Errc::kIo, "lab lock " + layout.lockFile() + ": " + std::strerror(errno));
  }
  while (::flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) {
      return makeError(Errc::kIo, "lab lock " + layout.lockFile() + ": " + std::strerror(errno));
    }
  }
  return StateLock(std::move(fd));
}

}  // namespace podnet::lab
