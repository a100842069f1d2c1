#include "runtime/exec.h"

#include "common/subprocess.h"

namespace podnet::runtime {

Result<ExecResult> execPlugin(const std::string& binary,
                              const std::map<std::string, std::string>& env,
                              std::string_view stdinText, std::chrono::milliseconds timeout,
                              const std::string& hostNetns) {
  ProcessSpec spec;
  spec.argv = {binary};
  spec.env.emplace();
  for (const auto& [key, value] : env) spec.env->push_back(key + "=" + value);
  if (!env.contains("PATH")) spec.env->push_back("PATH=/usr/sbin:/usr/bin:/sbin:/bin");
  spec.netns = hostNetns;
  spec.in = ProcessSpec::Input::kPipe;
  // Its own process group, so a timeout also kills whatever the plugin started.
  spec.group = ProcessSpec::Group::kProcessGroup;
  spec.what = "plugin " + binary;
  auto plugin = PODNET_TRY(Subprocess::spawn(spec));
  return plugin.communicate(stdinText, timeout);
}

}  // namespace podnet::runtime
