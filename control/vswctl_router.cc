// vswctl router-if add|del|list, route add|del|list|lookup, neigh list: routing between
// bridges.
#include <cstdio>
#include <string>

#include "vswctl_cli.h"
#include "vswctl_output.h"

namespace vsw::cli {
namespace {

std::string joined(const google::protobuf::RepeatedPtrField<std::string>& items,
                   const char* sep = ",") {
  std::string out;
  for (const std::string& s : items) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return or_dash(out);
}

void warn_refused(const std::string& what, const std::string& error) {
  if (!error.empty())
    print_error("warning: " + what + " is stored but the dataplane refused it: " + error +
                " (retried when the dataplane reconnects)");
}

int run_router_if_add(Context& context, const Args& args) {
  vswitch::v1::AddRouterInterfaceRequest request;
  auto* spec = request.mutable_router_interface();
  spec->set_name(args.positional[0]);
  spec->set_bridge(args.get("--bridge"));
  for (const std::string& ip : args.all("--ip")) spec->add_addresses(ip);
  spec->set_mac(args.get("--mac"));
  vswitch::v1::RouterInterface r;
  const grpc::Status rpc = context.client.call(&Stub::AddRouterInterface, request, &r);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(r);
  } else {
    std::printf("router interface %s added on bridge %s (%s, mac %s)%s\n", r.spec().name().c_str(),
                r.spec().bridge().c_str(), joined(r.spec().addresses(), " ").c_str(),
                r.spec().mac().c_str(),
                r.state().error().empty() && !r.state().programmed()
                    ? ", pending: programmed once the dataplane is connected"
                    : "");
  }
  warn_refused("router interface " + r.spec().name(), r.state().error());
  return kExitOk;
}

int run_router_if_del(Context& context, const Args& args) {
  vswitch::v1::DeleteRouterInterfaceRequest request;
  request.set_name(args.positional[0]);
  vswitch::v1::DeleteRouterInterfaceResponse response;
  const grpc::Status rpc = context.client.call(&Stub::DeleteRouterInterface, request, &response);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(response);
  } else {
    std::printf("router interface %s deleted\n", request.name().c_str());
  }
  return kExitOk;
}

int run_router_if_list(Context& context, const Args&) {
  vswitch::v1::ListRouterInterfacesResponse response;
  const grpc::Status rpc = context.client.call(&Stub::ListRouterInterfaces, {}, &response);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(response);
    return kExitOk;
  }
  Table table({{"NAME"}, {"BRIDGE"}, {"MAC"}, {"ADDRESSES"}, {"STATE"}, {"ERROR"}});
  for (const auto& r : response.router_interfaces()) {
    table.add_row({r.spec().name(), r.spec().bridge(), r.spec().mac(), joined(r.spec().addresses()),
                   std::string(object_state_name(r.state().programmed(), r.state().error())),
                   or_dash(r.state().error())});
  }
  table.print();
  return kExitOk;
}

int run_route_add(Context& context, const Args& args) {
  vswitch::v1::AddRouteRequest request;
  request.mutable_route()->set_prefix(args.positional[0]);
  for (const std::string& via : args.all("--via")) request.mutable_route()->add_via(via);
  request.set_replace(args.has("--replace"));
  vswitch::v1::Route route;
  const grpc::Status rpc = context.client.call(&Stub::AddRoute, request, &route);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(route);
  } else {
    std::printf("route %s via %s %s%s\n", route.spec().prefix().c_str(),
                joined(route.spec().via(), " ").c_str(),
                request.replace() ? "stored (replacing any previous one)" : "added",
                route.state().error().empty() && !route.state().programmed()
                    ? ", pending: programmed once the dataplane is connected"
                    : "");
  }
  warn_refused("route " + route.spec().prefix(), route.state().error());
  return kExitOk;
}

int run_route_del(Context& context, const Args& args) {
  vswitch::v1::DeleteRouteRequest request;
  request.set_prefix(args.positional[0]);
  vswitch::v1::DeleteRouteResponse response;
  const grpc::Status rpc = context.client.call(&Stub::DeleteRoute, request, &response);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(response);
  } else {
    std::printf("route %s deleted\n", request.prefix().c_str());
  }
  return kExitOk;
}

int run_route_list(Context& context, const Args&) {
  vswitch::v1::ListRoutesResponse response;
  const grpc::Status rpc = context.client.call(&Stub::ListRoutes, {}, &response);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(response);
    return kExitOk;
  }
  Table table({{"PREFIX"}, {"KIND"}, {"VIA"}, {"STATE"}, {"ERROR"}});
  for (const auto& r : response.routes()) {
    const std::string via =
        r.kind() == "connected" ? "dev " + r.router_interface() : joined(r.spec().via(), ",");
    table.add_row({r.spec().prefix(), r.kind(), via,
                   std::string(object_state_name(r.state().programmed(), r.state().error())),
                   or_dash(r.state().error())});
  }
  table.print();
  return kExitOk;
}

int run_route_lookup(Context& context, const Args& args) {
  vswitch::v1::LookupRouteRequest request;
  request.set_address(args.positional[0]);
  vswitch::v1::RouteLookup lookup;
  const grpc::Status rpc = context.client.call(&Stub::LookupRoute, request, &lookup);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(lookup);
    return kExitOk;
  }
  if (lookup.prefix().empty()) {
    std::printf("%s: no route\n", lookup.address().c_str());
    return kExitOk;
  }
  std::printf("%s: %s\n", lookup.address().c_str(), lookup.prefix().c_str());
  for (const auto& nh : lookup.next_hops()) {
    std::printf("  %s dev %s\n", nh.via().empty() ? "connected" : ("via " + nh.via()).c_str(),
                nh.router_interface().c_str());
  }
  return kExitOk;
}

int run_neigh_list(Context& context, const Args&) {
  vswitch::v1::ListNeighborsResponse response;
  const grpc::Status rpc = context.client.call(&Stub::ListNeighbors, {}, &response);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(response);
    return kExitOk;
  }
  Table table(
      {{"ADDRESS"}, {"MAC"}, {"ROUTER_IF"}, {"PORT"}, {"STATE"}, {"AGE", Table::Align::kRight}});
  for (const auto& n : response.neighbors()) {
    table.add_row({n.address(), or_dash(n.mac()), n.router_interface(), or_dash(n.port()),
                   n.state(), duration_ms(n.age_ms())});
  }
  table.print();
  return kExitOk;
}

}  // namespace

const ObjectSpec& router_if_object() {
  static const ObjectSpec kObject{
      .name = "router-if",
      .summary =
          "Router interfaces: the router's presence on a bridge (a MAC and addresses);\n"
          "frames to that MAC are routed, and each address adds a connected route.",
      .verbs =
          {
              {
                  .name = "add",
                  .args = {{"NAME"}},
                  .options =
                      {
                          {"--bridge", "BR",
                           "the bridge it attaches to (required; one per bridge)"},
                          {"--ip", "CIDR", "an address with its prefix, 10.0.0.1/24 or fd00::1/64",
                           true},
                          {"--mac", "MAC", "its MAC (default 02:00:5e + a hash of the name)"},
                      },
                  .usage = "NAME --bridge BR --ip CIDR [--ip CIDR ...] [--mac MAC]",
                  .summary = "add a router interface on a bridge",
                  .details = "Hosts on the bridge use its addresses as their gateway: it answers\n"
                             "ARP and neighbor solicitations for them and ping. Addresses of two\n"
                             "router interfaces may not overlap.\n"
                             "\n"
                             "With --json: the stored vswitch.v1.RouterInterface.\n",
                  .run = run_router_if_add,
              },
              {
                  .name = "del",
                  .args = {{"NAME"}},
                  .usage = "NAME",
                  .summary = "delete a router interface (its connected routes go with it)",
                  .details = "With --json: {}.\n",
                  .run = run_router_if_del,
              },
              {
                  .name = "list",
                  .usage = "",
                  .summary = "list router interfaces: bridge, MAC, addresses, state",
                  .details = "With --json: vswitch.v1.ListRouterInterfacesResponse.\n",
                  .run = run_router_if_list,
              },
          },
  };
  return kObject;
}

const ObjectSpec& route_object() {
  static const ObjectSpec kObject{
      .name = "route",
      .summary = "Routes: static routes with one next hop or an ECMP group, and the FIB.",
      .verbs =
          {
              {
                  .name = "add",
                  .args = {{"PREFIX"}},
                  .options =
                      {
                          {"--via", "NEXTHOP", "a next-hop address; several make ECMP (max 16)",
                           true},
                          {"--replace", "", "replace the route to PREFIX if there is one"},
                      },
                  .usage = "PREFIX --via NEXTHOP [--via NEXTHOP ...] [--replace]",
                  .summary = "add a static route (several --via: ECMP)",
                  .details = "PREFIX is a network (host bits zero), IPv4 or IPv6; the next hops\n"
                             "are of its family and resolved with ARP or ND on the router\n"
                             "interface whose subnet holds them. With several, a hash of each\n"
                             "flow's 5-tuple picks one, so a flow stays on one path. The change\n"
                             "reaches the dataplane without pausing forwarding.\n"
                             "\n"
                             "With --json: the stored vswitch.v1.Route.\n",
                  .run = run_route_add,
              },
              {
                  .name = "del",
                  .args = {{"PREFIX"}},
                  .usage = "PREFIX",
                  .summary = "delete a static route",
                  .details = "Its traffic stops on the next packet (the flow caches drop the\n"
                             "decisions built from it).\n"
                             "\n"
                             "With --json: {}.\n",
                  .run = run_route_del,
              },
              {
                  .name = "list",
                  .usage = "",
                  .summary = "list connected and static routes",
                  .details = "With --json: vswitch.v1.ListRoutesResponse.\n",
                  .run = run_route_list,
              },
              {
                  .name = "lookup",
                  .args = {{"ADDR"}},
                  .usage = "ADDR",
                  .summary = "the prefix and next hop(s) the dataplane's FIB picks for ADDR",
                  .details = "Asks the dataplane, so it shows what forwarding does, not what is\n"
                             "stored. UNAVAILABLE while the dataplane is disconnected.\n"
                             "\n"
                             "With --json: vswitch.v1.RouteLookup.\n",
                  .run = run_route_lookup,
              },
          },
  };
  return kObject;
}

const ObjectSpec& neigh_object() {
  static const ObjectSpec kObject{
      .name = "neigh",
      .summary = "Neighbors: the router's ARP and ND table, read from the dataplane.",
      .verbs =
          {
              {
                  .name = "list",
                  .usage = "",
                  .summary = "list neighbors: address, MAC, router interface, port, state, age",
                  .details = "With --json: vswitch.v1.ListNeighborsResponse.\n",
                  .run = run_neigh_list,
              },
          },
  };
  return kObject;
}

}  // namespace vsw::cli
