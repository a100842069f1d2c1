#include "k8s/config.h"

#include <openssl/evp.h>
#include <yaml.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

extern char** environ;

namespace podnet::k8s {
namespace {

using nlohmann::json;

Result<std::string> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return makeError(Errc::kNotFound, path + ": cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A bearer token from a file, without the line end (or other trailing space) it was saved with.
Result<std::string> readToken(const std::string& path) {
  std::string token = PODNET_TRY(readFile(path));
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  return token;
}

// A kubeconfig is a plain YAML mapping; libyaml's document loader gives its tree, turned into
// JSON with every scalar a string (a kubeconfig has no numbers; its one boolean is read by
// hand). model/manifest.cpp has the full YAML 1.2 reader for manifests, but src/k8s depends on
// src/common only.
json yamlNode(yaml_document_t* doc, yaml_node_t* node) {
  if (node == nullptr) return nullptr;
  switch (node->type) {
    case YAML_SCALAR_NODE:
      return std::string(reinterpret_cast<const char*>(node->data.scalar.value),
                         node->data.scalar.length);
    case YAML_SEQUENCE_NODE: {
      json out = json::array();
      for (auto* item = node->data.sequence.items.start; item < node->data.sequence.items.top;
           ++item) {
        out.push_back(yamlNode(doc, yaml_document_get_node(doc, *item)));
      }
      return out;
    }
    case YAML_MAPPING_NODE: {
      json out = json::object();
      for (auto* pair = node->data.mapping.pairs.start; pair < node->data.mapping.pairs.top;
           ++pair) {
        json key = yamlNode(doc, yaml_document_get_node(doc, pair->key));
        if (key.is_string()) {
          out[key.get<std::string>()] = yamlNode(doc, yaml_document_get_node(doc, pair->value));
        }
      }
      return out;
    }
    default:
      return nullptr;
  }
}

Result<json> parseYaml(const std::string& text, const std::string& source) {
  yaml_parser_t parser;
  if (yaml_parser_initialize(&parser) == 0) return makeError(Errc::kInternal, "libyaml init");
  std::unique_ptr<yaml_parser_t, decltype(&yaml_parser_delete)> parserGuard(&parser,
                                                                            yaml_parser_delete);
  yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(text.data()),
                               text.size());
  yaml_document_t doc;
  if (yaml_parser_load(&parser, &doc) == 0) {
    return makeError(Errc::kDecode, source + " line " +
                                        std::to_string(parser.problem_mark.line + 1) + ": " +
                                        (parser.problem ? parser.problem : "bad YAML"));
  }
  std::unique_ptr<yaml_document_t, decltype(&yaml_document_delete)> docGuard(&doc,
                                                                             yaml_document_delete);
  json out = yamlNode(&doc, yaml_document_get_root_node(&doc));
  if (!out.is_object()) return makeError(Errc::kDecode, source + ": not a mapping");
  return out;
}

Result<std::string> base64Decode(const std::string& text, const std::string& field) {
  std::string clean;
  for (char c : text) {
    if (c != '\n' && c != '\r' && c != ' ') clean += c;
  }
  if (clean.size() % 4 != 0) {
    return makeError(Errc::kDecode, field + ": not base64 (length " + std::to_string(clean.size()) +
                                        " is not a multiple of 4)");
  }
  std::string out(clean.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(clean.data()),
                          static_cast<int>(clean.size()));
  if (n < 0) return makeError(Errc::kDecode, field + ": not base64");
  // EVP_DecodeBlock counts the bytes that the '=' padding stands for; they are not data.
  size_t padding = 0;
  while (padding < 2 && padding < clean.size() && clean[clean.size() - 1 - padding] == '=') {
    ++padding;
  }
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

// The entry of kubeconfig list `list` (clusters, users, contexts) called `name`: its inner object
// (cluster, user, context).
Result<json> namedEntry(const json& config, const std::string& list, const std::string& inner,
                        const std::string& name) {
  auto it = config.find(list);
  if (it != config.end() && it->is_array()) {
    for (const auto& entry : *it) {
      if (entry.is_object() && entry.value("name", json()) == json(name)) {
        auto body = entry.find(inner);
        if (body != entry.end() && body->is_object()) return *body;
        return makeError(Errc::kDecode, inner + " \"" + name + "\": no " + inner + " object");
      }
    }
  }
  return makeError(Errc::kNotFound, inner + " \"" + name + "\": no such " + inner);
}

std::string stringAt(const json& object, const std::string& key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A Pem from `<key>-data` (base64) or `<key>` (a file, relative to base).
Result<Pem> pemFrom(const json& object, const std::string& key, const std::filesystem::path& base,
                    const std::string& where) {
  Pem pem;
  std::string data = stringAt(object, key + "-data");
  if (!data.empty()) pem.data = PODNET_TRY(base64Decode(data, where + " " + key + "-data"));
  std::string file = stringAt(object, key);
  if (!file.empty()) pem.file = (base / file).lexically_normal().string();
  return pem;
}

Result<ClientConfig> decodeKubeconfig(const json& config, const std::string& path,
                                      const std::string& wanted) {
  std::string contextName = wanted.empty() ? stringAt(config, "current-context") : wanted;
  if (contextName.empty()) return makeError(Errc::kInvalidArgument, "no current-context");
  json context = PODNET_TRY(namedEntry(config, "contexts", "context", contextName));
  std::string clusterName = stringAt(context, "cluster");
  std::string userName = stringAt(context, "user");
  json cluster = PODNET_TRY(namedEntry(config, "clusters", "cluster", clusterName));
  auto base = std::filesystem::absolute(path).parent_path();

  ClientConfig out;
  out.server = stringAt(cluster, "server");
  while (!out.server.empty() && out.server.back() == '/') out.server.pop_back();
  if (out.server.empty()) {
    return makeError(Errc::kInvalidArgument, "cluster \"" + clusterName + "\": no server");
  }
  std::string clusterWhere = "cluster \"" + clusterName + "\"";
  out.ca = PODNET_TRY(pemFrom(cluster, "certificate-authority", base, clusterWhere));
  out.insecureSkipTlsVerify = stringAt(cluster, "insecure-skip-tls-verify") == "true";
  if (!userName.empty()) {
    json user = PODNET_TRY(namedEntry(config, "users", "user", userName));
    std::string userWhere = "user \"" + userName + "\"";
    out.clientCert = PODNET_TRY(pemFrom(user, "client-certificate", base, userWhere));
    out.clientKey = PODNET_TRY(pemFrom(user, "client-key", base, userWhere));
    out.token = stringAt(user, "token");
    std::string tokenFile = stringAt(user, "tokenFile");
    if (out.token.empty() && !tokenFile.empty()) {
      auto token = readToken((base / tokenFile).string());
      if (!token) return std::move(token).takeError().context(userWhere + " tokenFile");
      out.token = *token;
    }
    if (out.clientCert.empty() != out.clientKey.empty()) {
      return makeError(
          Errc::kInvalidArgument,
          userWhere + ": a client certificate needs its key, and the key its certificate");
    }
  }
  return out;
}

}  // namespace

Result<ClientConfig> loadKubeconfig(const std::string& path, const std::string& context) {
  std::string where = "kubeconfig " + path;
  auto text = readFile(path);
  if (!text) return std::move(text).takeError().context("kubeconfig");
  auto config = parseYaml(*text, where);
  if (!config) return std::move(config).takeError();
  auto out = decodeKubeconfig(*config, path, context);
  if (!out) return std::move(out).takeError().context(where);
  return out;
}

Result<ClientConfig> inClusterConfig(const std::map<std::string, std::string>& env,
                                     const std::string& accountDir) {
  auto host = env.find("KUBERNETES_SERVICE_HOST");
  auto port = env.find("KUBERNETES_SERVICE_PORT");
  if (host == env.end() || host->second.empty() || port == env.end() || port->second.empty()) {
    return makeError(Errc::kNotFound,
                     "in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
                     "are not set (not running in a pod?)");
  }
  ClientConfig out;
  // An IPv6 service address needs brackets in a URL.
  bool v6 = host->second.find(':') != std::string::npos;
  out.server = "https://" + (v6 ? "[" + host->second + "]" : host->second) + ":" + port->second;
  auto token = readToken(accountDir + "/token");
  if (!token)
    return std::move(token).takeError().context("in-cluster config: service account token");
  out.token = *token;
  out.ca.file = accountDir + "/ca.crt";
  if (!std::filesystem::exists(out.ca.file)) {
    return makeError(Errc::kNotFound, "in-cluster config: " + out.ca.file + " is missing");
  }
  return out;
}

Result<ClientConfig> inClusterConfig() {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry = *e;
    auto eq = entry.find('=');
    if (eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  return inClusterConfig(env);
}

}  // namespace podnet::k8s
