# vsw-memory-modes: nohuge
"""The dataplane socket under hostile and careless clients.

Python classes for proto/dataplane.proto are generated at test time (protoc --python_out) and
the framing (4-byte big-endian length + body) is implemented here, so the test speaks the
wire format without the C++ client. While a well-behaved client keeps sending status requests
on one long-lived connection and checks every answer, other clients send garbage frames, an
oversized length header, a truncated frame, and more idle connections than the server serves.
The server must drop each bad client alone, count what happened, and keep answering.
"""

import os
import random
import select
import socket
import struct
import threading
import time
import warnings

from google.protobuf.message import DecodeError

import vswtest
from vswtest import MgmtClient, wait_until

GARBAGE_FRAMES = 1000
MAX_FRAME_BYTES = 16 << 20      # vsw::proto::kMaxFrameBytes
MAX_CONNECTIONS = 64            # vsw::dp::kMaxConnections
EXTRA_CONNECTIONS = 70
CLOSE_TIMEOUT = 5.0             # for the server to close a bad connection
COUNTER_TIMEOUT = 15.0


class GoodClient(threading.Thread):
    """Sends status requests on one connection until stopped; checks every answer."""

    def __init__(self, client: MgmtClient, pb2, pid: int):
        super().__init__(daemon=True)
        self.client, self.pb2, self.pid = client, pb2, pid
        self.sent = 0
        self.answered = 0
        self.errors: list[str] = []
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set():
            self.sent += 1
            try:
                response = self.client.call(self.pb2.Request(status=self.pb2.StatusRequest()))
            except Exception as e:  # noqa: BLE001 (recorded, reported by the test)
                self.errors.append(f"request {self.sent}: {e!r}")
                return
            if response.WhichOneof("body") != "status" or response.status.pid != self.pid:
                self.errors.append(f"request {self.sent}: unexpected answer {response}")
                return
            self.answered += 1
            time.sleep(0.002)

    def stop(self) -> None:
        self._stopping.set()
        self.join(30)
        assert not self.is_alive(), "the good client is stuck"


def connect(path) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(CLOSE_TIMEOUT)
    s.connect(str(path))
    return s


def closed_by_server(s: socket.socket) -> bool:
    """Waits (bounded) for the server to close `s`; True on EOF (or reset), False on data."""
    try:
        data = s.recv(65536)
    except ConnectionResetError:
        return True
    except socket.timeout:
        raise AssertionError(f"the server neither answered nor closed within {CLOSE_TIMEOUT} s")
    return data == b""


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def parse_request(pb2, body: bytes):
    """The Request `body` encodes, or None when it is not one (as C++ ParseFromString says).

    Python's FromString is laxer than C++: at an unexpected end-group tag it stops, warns
    ("Unexpected end-group tag: Not all data was converted") and returns what it has. So a
    warning means "not a Request" here, and the whole body must be consumed.
    """
    request = pb2.Request()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            consumed = request.MergeFromString(body)
        except DecodeError:
            return None
    return request if consumed == len(body) and not caught else None


class MgmtRobustnessTest(vswtest.TestCase):

    def test_hostile_clients(self):
        with vswtest.Env() as env:
            pb2 = vswtest.load_dataplane_proto(env.workdir)
            dp = env.dataplane()
            good = GoodClient(env.mgmt_client(dp, pb2), pb2, dp.pid)
            good.start()
            wait_until(lambda: good.answered >= 20 or good.errors, 30, "the good client's answers")
            base = dp.stats()["management"]
            good_base = good.answered  # answered before `base`: not in the deltas

            def mgmt() -> dict:
                """Management counters, read over the good client's connection (so this works
                when no new connection would be served), as deltas from `base`."""
                stats = good.client.call(pb2.Request(stats=pb2.StatsRequest())).stats.management
                deltas = {f.name: getattr(stats, f.name) - int(base[f.name])
                          for f in stats.DESCRIPTOR.fields}
                deltas["connections_active"] = stats.connections_active  # absolute
                return deltas

            # 1. Garbage: random bodies behind valid length headers, each on a new connection.
            # A third are valid read-only requests with a few bytes changed, which often still
            # parse; those are answered, and the rest must make the server close.
            seed = int(os.environ.get("VSW_SEED", os.getpid()))
            vswtest.log(f"garbage seed {seed} (set VSW_SEED to replay)")
            rng = random.Random(seed)
            templates = [pb2.Request(id=7, status=pb2.StatusRequest()),
                         pb2.Request(id=8, port_list=pb2.PortListRequest()),
                         pb2.Request(id=9, xconnect_list=pb2.XconnectListRequest()),
                         pb2.Request(id=10, stats=pb2.StatsRequest())]
            unparsable = answered = 0
            mismatches = []
            for i in range(GARBAGE_FRAMES):
                if i % 100 == 0:  # interleave with the good client, whatever the speeds
                    mark = good.answered
                    wait_until(lambda: good.answered > mark or good.errors, 30,
                               "the good client's answers between garbage frames")
                if i % 3 == 0:
                    body = bytearray(rng.choice(templates).SerializeToString())
                    for _ in range(rng.randint(1, 3)):
                        body[rng.randrange(len(body))] = rng.randrange(256)
                    body = bytes(body)
                else:
                    body = rng.randbytes(rng.randint(1, 300))
                request = parse_request(pb2, body)
                with connect(dp.socket_path) as s:
                    s.sendall(MgmtClient.frame(body))
                    header = s.recv(4, socket.MSG_WAITALL)
                    if header == b"":
                        unparsable += 1
                        if request is not None:
                            mismatches.append(f"closed, but parses in Python: {body.hex()}")
                        continue
                    (length,) = struct.unpack(">I", header)
                    response = pb2.Response.FromString(s.recv(length, socket.MSG_WAITALL))
                    answered += 1
                    if request is None:
                        mismatches.append(f"answered, but not a Request in Python: {body.hex()}")
                    elif response.id != request.id:
                        mismatches.append(f"answer id {response.id} for request {request.id}")
            vswtest.log(f"garbage: {unparsable} closed as unparsable, {answered} answered")
            self.assertEqual(mismatches, [])
            self.assertGreater(unparsable, GARBAGE_FRAMES // 2)
            dp.assert_alive()

            # 2. A length header of 100 MiB: closed at once, without reading 100 MiB.
            with connect(dp.socket_path) as s:
                started = time.monotonic()
                s.sendall(struct.pack(">I", 100 << 20) + os.urandom(1024))
                self.assertTrue(closed_by_server(s))
                self.assertLess(time.monotonic() - started, CLOSE_TIMEOUT)
            # The limit itself: one byte over is refused, a request of exactly the limit
            # (a status request padded with an unknown field) is answered.
            with connect(dp.socket_path) as s:
                s.sendall(struct.pack(">I", MAX_FRAME_BYTES + 1))
                self.assertTrue(closed_by_server(s))
            head = pb2.Request(id=4242, status=pb2.StatusRequest()).SerializeToString()
            tag = varint((1000 << 3) | 2)  # field 1000, length-delimited: unknown, kept
            pad = MAX_FRAME_BYTES - len(head) - len(tag)
            pad -= len(varint(pad))
            body = head + tag + varint(pad) + bytes(pad)
            self.assertEqual(len(body), MAX_FRAME_BYTES)
            with connect(dp.socket_path) as s:
                s.settimeout(30)
                s.sendall(MgmtClient.frame(body))
                (length,) = struct.unpack(">I", s.recv(4, socket.MSG_WAITALL))
                response = pb2.Response.FromString(s.recv(length, socket.MSG_WAITALL))
                self.assertEqual((response.id, response.WhichOneof("body")), (4242, "status"))

            # 3. A truncated frame: 10 of the 100 bytes promised, then the client goes away.
            with connect(dp.socket_path) as s:
                s.sendall(struct.pack(">I", 100) + os.urandom(10))

            want = {"frames_oversized": 2, "frames_truncated": 1,
                    "frames_unparsable": unparsable, "connections_refused": 0}
            wait_until(lambda: all(mgmt()[k] == v for k, v in want.items()), COUNTER_TIMEOUT,
                       f"management counters {want}", state=mgmt)
            self.assertGreaterEqual(mgmt()["frames_ok"], good.answered - good_base + answered + 1)
            dp.assert_alive()
            self.assertEqual(good.errors, [])

            # 4. More connections than the server serves. Only the good client is connected
            # now (counters are read over its connection), so 63 more are served and the rest
            # are accepted, counted as refused and closed.
            wait_until(lambda: mgmt()["connections_active"] == 1, COUNTER_TIMEOUT,
                       "the bad clients' connections to be gone", state=mgmt)
            idle = [connect(dp.socket_path) for _ in range(EXTRA_CONNECTIONS)]
            try:
                refused = 1 + EXTRA_CONNECTIONS - MAX_CONNECTIONS
                wait_until(lambda: mgmt()["connections_refused"] == refused, COUNTER_TIMEOUT,
                           f"{refused} connections to be refused", state=mgmt)
                counters = mgmt()
                self.assertEqual(counters["connections_active"], MAX_CONNECTIONS, counters)
                readable, _, _ = select.select(idle, [], [], 1.0)
                self.assertEqual(len(readable), refused)
                for s in readable:
                    self.assertTrue(closed_by_server(s))
                # A newcomer is refused as well while the server is full...
                err = dp.dpctl_fail("status")
                # (EOF, reset or broken pipe: it depends on how far dpctl got before the close)
                self.assertRegex(err, r"closed the connection|Connection reset by peer|"
                                      r"Broken pipe")
                self.assertEqual(mgmt()["connections_refused"], refused + 1)
                # ... and the good client is served all along.
                answered_before = good.answered
                wait_until(lambda: good.answered > answered_before + 20 or good.errors, 30,
                           "the good client's answers while the server is full")
            finally:
                for s in idle:
                    s.close()
            wait_until(lambda: mgmt()["connections_active"] == 1, COUNTER_TIMEOUT,
                       "the idle connections to be gone", state=mgmt)
            self.assertEqual(dp.status()["pid"], dp.pid)  # new clients are served again

            good.stop()
            self.assertEqual(good.errors, [])
            self.assertEqual(good.answered, good.sent)
            vswtest.log(f"good client: {good.answered} requests, all answered")
            dp.assert_alive()


if __name__ == "__main__":
    vswtest.main()
