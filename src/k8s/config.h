// Where a Kubernetes API server is and how to authenticate to it: from a kubeconfig file, as
// kubectl reads one, or from inside a pod (its service account), as client-go's
// rest.InClusterConfig.
#pragma once

#include <map>
#include <string>

#include "common/result.h"

namespace podnet::k8s {

// PEM text, or a file holding it. The text wins when both are set.
struct Pem {
  std::string data;
  std::string file;
  bool empty() const { return data.empty() && file.empty(); }
};

struct ClientConfig {
  std::string server;  // "https://127.0.0.1:6443", without a trailing slash
  Pem ca;              // empty: the system's trust store
  Pem clientCert;      // a client certificate and its key authenticate as its CN / O
  Pem clientKey;
  std::string token;  // a bearer token (a service account's), sent when set
  bool insecureSkipTlsVerify = false;
};

// Reads a kubeconfig file (YAML or JSON): the cluster and user of `context`, or of the file's
// current-context when context is empty. Supports server, certificate-authority(-data),
// client-certificate(-data), client-key(-data), token, tokenFile and insecure-skip-tls-verify;
// relative file names are taken from the kubeconfig's folder, as kubectl does. Errors name the
// file and the entry: "kubeconfig /x/config: context \"lab\": no such context".
Result<ClientConfig> loadKubeconfig(const std::string& path, const std::string& context = "");

// The service account a pod runs as: the token and ca.crt under `accountDir` and the server from
// KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT in `env`. Fails with kNotFound, naming what
// is missing, when not in a pod.
inline constexpr const char* kServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";
Result<ClientConfig> inClusterConfig(const std::map<std::string, std::string>& env,
                                     const std::string& accountDir = kServiceAccountDir);
// The same with this process's environment.
Result<ClientConfig> inClusterConfig();

}  // namespace podnet::k8s
