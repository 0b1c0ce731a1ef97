#ifndef TRUNKROUTE_TESTS_SUPPORT_PROTO_METHODS_H_
#define TRUNKROUTE_TESTS_SUPPORT_PROTO_METHODS_H_

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "google/protobuf/descriptor.pb.h"
#include "gtest/gtest.h"

namespace trunkroute::testing {

// One RPC as a .proto file declares it.
struct ProtoMethod {
  std::string full_name;  // "/trunkroute.v1.RoutingService/RouteCall", as gRPC sends it
  bool server_streaming = false;
  bool client_streaming = false;
};

// Every method of every service in the descriptor set TRUNKROUTE_API_DESCRIPTORS: protoc's
// --descriptor_set_out of every .proto file under proto/trunkroute/v1 (globbed, so a service
// added tomorrow is included without touching the tests) plus grpc-proto's health and
// reflection files (tests/support/CMakeLists.txt). Sorted by name; a missing file fails the test.
inline std::vector<ProtoMethod> AllApiMethods() {
  std::ifstream in(TRUNKROUTE_API_DESCRIPTORS, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  google::protobuf::FileDescriptorSet set;
  if (!in || !set.ParseFromString(bytes.str())) {
    ADD_FAILURE() << "cannot read the descriptor set " << TRUNKROUTE_API_DESCRIPTORS;
    return {};
  }
  std::vector<ProtoMethod> out;
  for (const google::protobuf::FileDescriptorProto& file : set.file()) {
    for (const google::protobuf::ServiceDescriptorProto& service : file.service()) {
      const std::string prefix =
          "/" + (file.package().empty() ? "" : file.package() + ".") + service.name() + "/";
      for (const google::protobuf::MethodDescriptorProto& method : service.method()) {
        out.push_back(ProtoMethod{prefix + method.name(), method.server_streaming(),
                                  method.client_streaming()});
      }
    }
  }
  std::sort(out.begin(), out.end(),
            [](const ProtoMethod& a, const ProtoMethod& b) { return a.full_name < b.full_name; });
  return out;
}

// Every trunkroute.v1 RPC (proto/trunkroute/v1/*.proto of this checkout).
inline std::vector<ProtoMethod> TrunkrouteMethods() {
  std::vector<ProtoMethod> out;
  for (ProtoMethod& m : AllApiMethods()) {
    if (m.full_name.rfind("/trunkroute.v1.", 0) == 0) out.push_back(std::move(m));
  }
  return out;
}

// The standard services trunkrouted also serves: grpc.health.v1 and reflection.
inline std::vector<ProtoMethod> StandardServiceMethods() {
  std::vector<ProtoMethod> out;
  for (ProtoMethod& m : AllApiMethods()) {
    if (m.full_name.rfind("/trunkroute.", 0) != 0) out.push_back(std::move(m));
  }
  return out;
}

}  // namespace trunkroute::testing

#endif  // TRUNKROUTE_TESTS_SUPPORT_PROTO_METHODS_H_
