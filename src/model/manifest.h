// Manifests: the files users write for `podnetctl apply -f` and `delete -f`, as kubectl reads them.
// A manifest is YAML (one or more documents separated by `---`) or JSON (one object); a document
// of kind List stands for its items. Each object is decoded by its apiVersion and kind into one of
// the Object alternatives below.
//
// To accept a new kind: add its type to Object, add a row to the kind table in manifest.cpp, and
// give the registry (registry/apply.cpp) an apply and a delete for it; the compiler points at every
// std::visit that lacks it. Kinds decoded by a library that depends on model (the policy kinds,
// policy/network_policy.h) cannot be Object alternatives: the registry decodes them beside these
// (registry/manifest_objects.h) and passes them to checkKind as alsoKnown.
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "model/kinds.h"
#include "model/objects.h"
#include "model/subnet.h"

namespace podnet::model {

// One object of a manifest, with where it came from for error messages.
struct Document {
  std::string source;  // the file as the user named it; empty for objects received over RPC
  int index = 0;       // 1-based: the document within source (empty documents count too)
  int item = 0;        // 1-based position within a List document; 0 when not in a List
  std::string apiVersion, kind, name;  // as written; empty when missing or not a string
  std::string namespace_;              // metadata.namespace as written; empty when missing
  nlohmann::json body;

  // "subnet.yaml document 2 (Subnet blue)", "list.json document 1 item 3 (Namespace shop)",
  // "object 2 (Subnet blue)" (no source); with the namespace when metadata has one:
  // "p.yaml document 1 (NetworkPolicy shop/deny-all)".
  std::string describe() const;
  // error with describe() in front. A decoder's own "<Kind> <name>: " or "<Kind> <ns>/<name>: "
  // prefix is dropped, since describe() already names the object (ns as written, or "default"
  // when metadata has none, as the namespaced decoders fill it in):
  // "subnet.yaml document 2 (Subnet blue): spec.gateway: ...".
  Error annotate(Error error) const;
};

// Parses a manifest into its objects. YAML plain scalars become numbers, booleans and null as the
// YAML 1.2 core schema says (`port: 80` is a number, `port: "80"` a string); empty documents are
// skipped; duplicate keys, unsupported tags and documents that are not objects are errors. Errors
// name the source, the document and, for syntax errors, the line and column:
// "subnet.yaml document 2 line 4 column 9: illegal map value".
Result<std::vector<Document>> parseDocuments(std::string_view text, const std::string& source);
// The same, the objects only.
Result<std::vector<nlohmann::json>> parseManifest(std::string_view text, const std::string& source);

// A Document for an object that arrived without a file (over RPC): source empty, index as given.
Document documentFor(nlohmann::json body, int index);

// Every kind a manifest may hold.
using Object = std::variant<Namespace, Pod, Subnet>;

// Decodes and statically validates one object by its apiVersion and kind: a v1 Namespace (its
// name must be a DNS label, its labels valid) or a podnet.io/v1 Subnet (model::validate). An
// unknown apiVersion/kind is an error naming it and the kinds podnet knows (model/kinds.h); a
// policy kind is kUnsupported here (policy/ decodes it). Errors are annotated with doc.describe().
Result<Object> decodeObject(const Document& doc);
// Whether doc has apiVersion and kind, and they are a row of kKinds (model/kinds.h). Otherwise
// the error decodeObject gives.
Status checkKind(const Document& doc);
// The check for a delete, which needs only a known kind (as checkKind) and a name.
Status checkKindAndName(const Document& doc);

std::string kindOf(const Object&);  // "Subnet"
std::string nameOf(const Object&);  // "blue"; namespaced kinds "shop/web"

}  // namespace podnet::model
