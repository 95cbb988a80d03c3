"""Open vSwitch with DPDK as a peer of the port-to-port benchmark (make bench PEERS=ovs)."""


def prepare(run):
    """Returns None when OVS-DPDK can run, else why not."""
    return "not implemented yet"


class OvsSwitch:
    def __init__(self, *a):
        raise RuntimeError("OVS peer not implemented")
