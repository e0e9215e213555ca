"""Raw XenStore wire-protocol client for the integration tests.

Two transports share one message API (XsConnection):
  * SocketConnection: the Unix stream socket dom0 tools use;
  * RingConnection: a guest's xenstore_domain_interface page, registered
    with the daemon through its hv.sock (see GuestDomain).

Only the Python standard library is used, so the tests run on a bare
Debian python3.  Every wait has a timeout: a daemon that stops answering
makes a test fail with XsTimeout, never hang.
"""

import collections
import mmap
import os
import select
import socket
import struct
import time

# Message types (xen/io/xs_wire.h).
XS_CONTROL = 0
XS_DEBUG = XS_CONTROL
XS_DIRECTORY = 1
XS_READ = 2
XS_GET_PERMS = 3
XS_WATCH = 4
XS_UNWATCH = 5
XS_TRANSACTION_START = 6
XS_TRANSACTION_END = 7
XS_INTRODUCE = 8
XS_RELEASE = 9
XS_GET_DOMAIN_PATH = 10
XS_WRITE = 11
XS_MKDIR = 12
XS_RM = 13
XS_SET_PERMS = 14
XS_WATCH_EVENT = 15
XS_ERROR = 16
XS_IS_DOMAIN_INTRODUCED = 17
XS_RESUME = 18
XS_SET_TARGET = 19
XS_RESET_WATCHES = 21
XS_DIRECTORY_PART = 22
XS_INVALID = 0xFFFF

TYPE_NAMES = {
    v: k for k, v in globals().items()
    if k.startswith("XS_") and isinstance(v, int) and k != "XS_DEBUG"
}

# Error names a daemon may send, in xs_wire.h's order.
ERROR_NAMES = (
    "EINVAL", "EACCES", "EEXIST", "EISDIR", "ENOENT", "ENOMEM", "ENOSPC",
    "EIO", "ENOTEMPTY", "ENOSYS", "EROFS", "EBUSY", "EAGAIN", "EISCONN",
    "E2BIG", "EPERM",
)

HEADER = struct.Struct("<IIII")   # type, req_id, tx_id, len
PAYLOAD_MAX = 4096
RING_SIZE = 1024

# struct xenstore_domain_interface layout.
OFF_REQ = 0
OFF_RSP = 1024
OFF_REQ_CONS = 2048
OFF_REQ_PROD = 2052
OFF_RSP_CONS = 2056
OFF_RSP_PROD = 2060
OFF_SERVER_FEATURES = 2064
OFF_CONNECTION = 2068
OFF_ERROR = 2072
PAGE_SIZE = 4096

# hv.sock registration message.
HV_MAGIC = 0x31564858
HV_OP_REGISTER = 1
HV_MSG = struct.Struct("<IIII")
HV_REPLY = struct.Struct("<Ii")

DEFAULT_TIMEOUT = 5.0


class XsError(Exception):
    """The daemon answered XS_ERROR; .name is the errno name."""

    def __init__(self, name, msgtype=None):
        super().__init__(name)
        self.name = name
        self.msgtype = msgtype


class XsTimeout(Exception):
    """No (complete) message arrived in time."""


class XsClosed(Exception):
    """The daemon closed the connection."""


class XsProtocolError(Exception):
    """The daemon sent something that breaks the wire protocol."""


Msg = collections.namedtuple("Msg", "type req_id tx_id payload")


def enc(part):
    if isinstance(part, bytes):
        return part
    if isinstance(part, int):
        return str(part).encode()
    return part.encode()


def args(*parts):
    """Encode strings as the wire wants them: each one NUL-terminated."""
    return b"".join(enc(p) + b"\0" for p in parts)


def split_nul(payload):
    """Split a NUL-terminated string list into str items."""
    if not payload:
        return []
    if payload.endswith(b"\0"):
        payload = payload[:-1]
    return [p.decode("latin-1") for p in payload.split(b"\0")]


def pack_msg(msgtype, payload=b"", req_id=0, tx_id=0, length=None):
    if length is None:
        length = len(payload)
    return HEADER.pack(msgtype, req_id, tx_id, length) + payload


class XsConnection:
    """Message layer shared by both transports.

    Transports implement _send_bytes(data, timeout) and
    _recv_bytes(timeout) -> bytes (b"" when the peer closed).
    Watch events that arrive while waiting for a reply are queued in
    self.events as (path, token) string pairs.
    """

    def __init__(self, timeout=DEFAULT_TIMEOUT):
        self.timeout = timeout
        self._buf = bytearray()
        self._next_req_id = 1
        self.events = collections.deque()
        self.last_reply = None       # Msg of the last reply (header check)
        self.closed = False

    # -- transport hooks -------------------------------------------------
    def _send_bytes(self, data, timeout):
        raise NotImplementedError

    def _recv_bytes(self, timeout):
        raise NotImplementedError

    def close(self):
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- raw message I/O -------------------------------------------------
    def send_raw(self, data, timeout=None):
        self._send_bytes(bytes(data), self.timeout if timeout is None
                         else timeout)

    def send_msg(self, msgtype, payload=b"", tx=0, req_id=None,
                 length=None):
        """Send one request without waiting; returns its req_id."""
        if req_id is None:
            req_id = self._next_req_id
            self._next_req_id = (self._next_req_id + 1) & 0xFFFFFFFF or 1
        self.send_raw(pack_msg(msgtype, payload, req_id, tx, length))
        return req_id

    def _take_msg(self):
        if len(self._buf) < HEADER.size:
            return None
        mtype, req_id, tx_id, length = HEADER.unpack_from(self._buf)
        if length > PAYLOAD_MAX:
            raise XsProtocolError(
                "daemon sent a %d-byte payload (type %d), max is %d"
                % (length, mtype, PAYLOAD_MAX))
        if len(self._buf) < HEADER.size + length:
            return None
        payload = bytes(self._buf[HEADER.size:HEADER.size + length])
        del self._buf[:HEADER.size + length]
        return Msg(mtype, req_id, tx_id, payload)

    def recv_msg(self, timeout=None):
        """Next message of any kind (reply or watch event)."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            msg = self._take_msg()
            if msg is not None:
                return msg
            left = deadline - time.monotonic()
            if left <= 0:
                raise XsTimeout("no message within %.1fs" % timeout)
            data = self._recv_bytes(left)
            if data is None:
                continue
            if data == b"":
                self.closed = True
                raise XsClosed("daemon closed the connection")
            self._buf += data

    def recv_reply(self, timeout=None):
        """Next non-event message; events are queued."""
        while True:
            msg = self.recv_msg(timeout)
            if msg.type == XS_WATCH_EVENT:
                self.events.append(self._decode_event(msg))
                continue
            return msg

    @staticmethod
    def _decode_event(msg):
        if msg.req_id != 0 or msg.tx_id != 0:
            raise XsProtocolError("watch event with req_id %d tx_id %d"
                                  % (msg.req_id, msg.tx_id))
        parts = msg.payload.split(b"\0")
        if len(parts) < 3 or parts[-1] != b"":
            raise XsProtocolError("malformed watch event %r" % msg.payload)
        return (parts[0].decode("latin-1"), parts[1].decode("latin-1"))

    def send(self, msgtype, payload=b"", tx=0, timeout=None):
        """Request/reply round trip: returns (type, payload).

        Checks that the reply echoes the request's req_id and tx_id and
        that its type is the request's type or XS_ERROR.
        """
        req_id = self.send_msg(msgtype, payload, tx)
        reply = self.recv_reply(timeout)
        self.last_reply = reply
        if reply.req_id != req_id:
            raise XsProtocolError("reply req_id %d, expected %d"
                                  % (reply.req_id, req_id))
        if reply.type not in (msgtype, XS_ERROR):
            raise XsProtocolError("reply type %d to request type %d"
                                  % (reply.type, msgtype))
        if reply.tx_id != tx:
            raise XsProtocolError("reply tx_id %d, request tx_id %d"
                                  % (reply.tx_id, tx))
        return reply.type, reply.payload

    def call(self, msgtype, payload=b"", tx=0, timeout=None):
        """Round trip that raises XsError on an error reply."""
        rtype, data = self.send(msgtype, payload, tx, timeout)
        if rtype == XS_ERROR:
            name = data.rstrip(b"\0").decode("latin-1")
            raise XsError(name, msgtype)
        return data

    def error_of(self, msgtype, payload=b"", tx=0):
        """Error name of a request that must fail (None if it succeeded)."""
        try:
            self.call(msgtype, payload, tx)
        except XsError as e:
            return e.name
        return None

    # -- watch events ----------------------------------------------------
    def wait_event(self, timeout=None):
        """Next watch event (path, token); raises XsTimeout."""
        if self.events:
            return self.events.popleft()
        while True:
            msg = self.recv_msg(timeout)
            if msg.type == XS_WATCH_EVENT:
                return self._decode_event(msg)
            raise XsProtocolError("unexpected message %r while waiting "
                                  "for an event" % (msg,))

    def collect_events(self, quiet=0.3):
        """All events that arrive until `quiet` seconds pass without one."""
        out = list(self.events)
        self.events.clear()
        while True:
            try:
                out.append(self.wait_event(quiet))
            except XsTimeout:
                return out

    def pipeline(self, requests, window=8, tx=0):
        """Send (type, payload) requests with up to `window` in flight;
        returns the replies (Msg) in order.  Keeps a guest below the
        daemon's outstanding-request quota."""
        pending = collections.deque()
        replies = []
        it = iter(requests)
        done = False
        while True:
            while not done and len(pending) < window:
                try:
                    mtype, payload = next(it)
                except StopIteration:
                    done = True
                    break
                pending.append(self.send_msg(mtype, payload, tx))
            if not pending:
                return replies
            msg = self.recv_reply()
            want = pending.popleft()
            if msg.req_id != want:
                raise XsProtocolError("reply req_id %d, expected %d"
                                      % (msg.req_id, want))
            replies.append(msg)

    # -- convenience wrappers ---------------------------------------------
    def read(self, path, tx=0):
        return self.call(XS_READ, args(path), tx)

    def write(self, path, value, tx=0):
        self.call(XS_WRITE, enc(path) + b"\0" + enc(value), tx)

    def mkdir(self, path, tx=0):
        self.call(XS_MKDIR, args(path), tx)

    def rm(self, path, tx=0):
        self.call(XS_RM, args(path), tx)

    def directory(self, path, tx=0):
        return split_nul(self.call(XS_DIRECTORY, args(path), tx))

    def directory_all(self, path, tx=0):
        """DIRECTORY, falling back to DIRECTORY_PART chunks on E2BIG as
        libxenstore does; restarts if the generation changes."""
        try:
            return self.directory(path, tx)
        except XsError as e:
            if e.name != "E2BIG":
                raise
        for _ in range(10):
            names, off, gen0 = [], 0, None
            while True:
                data = self.call(XS_DIRECTORY_PART, args(path, off), tx)
                gen, rest = data.split(b"\0", 1)
                if gen0 is None:
                    gen0 = gen
                elif gen != gen0:
                    break
                done = rest == b"\0" or rest.endswith(b"\0\0")
                body = rest[:-1] if done else rest
                names += split_nul(body)
                off += len(body)
                if done:
                    return names
        raise XsProtocolError("DIRECTORY_PART of %s never stable" % path)

    def exists(self, path, tx=0):
        try:
            self.read(path, tx)
            return True
        except XsError as e:
            if e.name == "ENOENT":
                return False
            raise

    def get_perms(self, path, tx=0):
        return split_nul(self.call(XS_GET_PERMS, args(path), tx))

    def set_perms(self, path, perms, tx=0):
        self.call(XS_SET_PERMS, args(path, *perms), tx)

    def watch(self, path, token):
        self.call(XS_WATCH, args(path, token))

    def unwatch(self, path, token):
        self.call(XS_UNWATCH, args(path, token))

    def tx_start(self):
        return int(self.call(XS_TRANSACTION_START, b"\0")
                   .rstrip(b"\0").decode())

    def tx_end(self, tx, commit=True):
        self.call(XS_TRANSACTION_END, args("T" if commit else "F"), tx)

    def get_domain_path(self, domid):
        return self.call(XS_GET_DOMAIN_PATH, args(domid)) \
            .rstrip(b"\0").decode()

    def is_introduced(self, domid):
        return self.call(XS_IS_DOMAIN_INTRODUCED, args(domid)) \
            .rstrip(b"\0").decode()

    def introduce(self, domid, gfn, evtchn):
        self.call(XS_INTRODUCE, args(domid, gfn, evtchn))

    def release(self, domid):
        self.call(XS_RELEASE, args(domid))

    def set_target(self, domid, target):
        self.call(XS_SET_TARGET, args(domid, target))

    def reset_watches(self):
        self.call(XS_RESET_WATCHES, b"\0")

    def alive(self):
        """True if the connection still answers a trivial request."""
        try:
            self.call(XS_READ, args("/"), timeout=5)
        except XsError:
            pass                # an answer all the same (e.g. EACCES)
        except (XsClosed, XsTimeout, XsProtocolError, OSError):
            return False
        return True


class SocketConnection(XsConnection):
    """dom0 client on the daemon's Unix stream socket."""

    def __init__(self, path, timeout=DEFAULT_TIMEOUT):
        super().__init__(timeout)
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # A non-blocking AF_UNIX connect fails with EAGAIN while the
        # daemon's listen backlog is full: retry until the timeout.
        self.sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock.connect(path)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    self.sock.close()
                    raise XsTimeout("connect to %s: backlog full" % path)
                time.sleep(0.01)

    def _send_bytes(self, data, timeout):
        self.sock.settimeout(timeout)
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError) as e:
            self.closed = True
            raise XsClosed(str(e))
        except socket.timeout:
            raise XsTimeout("send blocked for %.1fs" % timeout)

    def _recv_bytes(self, timeout):
        self.sock.settimeout(max(timeout, 0.001))
        try:
            return self.sock.recv(65536)
        except socket.timeout:
            return None
        except ConnectionResetError:
            return b""

    def close(self):
        super().close()
        self.sock.close()


def eventfd_kick(fd):
    os.write(fd, struct.pack("<Q", 1))


def eventfd_drain(fd):
    try:
        os.read(fd, 8)
    except BlockingIOError:
        pass


class RingConnection(XsConnection):
    """The guest side of a xenstore_domain_interface page.

    `mm` maps the whole guest memory; the interface is at page `gfn`.
    kick_fd is the guest->daemon eventfd, notify_fd the daemon->guest one.
    """

    def __init__(self, mm, gfn, kick_fd, notify_fd, timeout=DEFAULT_TIMEOUT):
        super().__init__(timeout)
        self.mm = mm
        self.base = gfn * PAGE_SIZE
        self.kick_fd = kick_fd
        self.notify_fd = notify_fd
        # Indexes as whole 32-bit words: struct.pack_into stores a byte
        # at a time, and xenstored reading a half-written req_prod (seen
        # on a loaded host) rightly gives up on the ring.
        self.words = memoryview(mm).cast("I")

    # ring field access
    def get(self, off):
        return self.words[(self.base + off) // 4]

    def put(self, off, value):
        self.words[(self.base + off) // 4] = value & 0xFFFFFFFF

    def kick(self):
        eventfd_kick(self.kick_fd)

    def _wait_notify(self, timeout):
        """Wait for the daemon's notification; True if one came."""
        r, _, _ = select.select([self.notify_fd], [], [], max(timeout, 0))
        if r:
            eventfd_drain(self.notify_fd)
            return True
        return False

    def _send_bytes(self, data, timeout):
        deadline = time.monotonic() + timeout
        pos = 0
        while pos < len(data):
            cons = self.get(OFF_REQ_CONS)
            prod = self.get(OFF_REQ_PROD)
            used = (prod - cons) & 0xFFFFFFFF
            if used > RING_SIZE:
                raise XsProtocolError("req ring indexes corrupt: cons %d "
                                      "prod %d" % (cons, prod))
            space = RING_SIZE - used
            if space == 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise XsTimeout("request ring stayed full")
                self._wait_notify(min(left, 0.5))
                continue
            n = min(space, len(data) - pos,
                    RING_SIZE - (prod & (RING_SIZE - 1)))
            off = self.base + OFF_REQ + (prod & (RING_SIZE - 1))
            self.mm[off:off + n] = data[pos:pos + n]
            pos += n
            # x86 stores are ordered: the bytes land before the index.
            self.put(OFF_REQ_PROD, prod + n)
            self.kick()

    def write_some(self, data):
        """Put as much of `data` in the request ring as fits now (no
        waiting); kicks the daemon and returns the byte count."""
        cons = self.get(OFF_REQ_CONS)
        prod = self.get(OFF_REQ_PROD)
        space = RING_SIZE - ((prod - cons) & 0xFFFFFFFF)
        n = max(0, min(space, len(data)))
        for i in range(n):
            self.mm[self.base + OFF_REQ + ((prod + i) & (RING_SIZE - 1))] = \
                data[i]
        if n:
            self.put(OFF_REQ_PROD, prod + n)
            self.kick()
        return n

    def _recv_bytes(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            cons = self.get(OFF_RSP_CONS)
            prod = self.get(OFF_RSP_PROD)
            avail = (prod - cons) & 0xFFFFFFFF
            if avail > RING_SIZE:
                raise XsProtocolError("rsp ring indexes corrupt: cons %d "
                                      "prod %d" % (cons, prod))
            if avail:
                out = bytearray()
                while avail:
                    idx = cons & (RING_SIZE - 1)
                    n = min(avail, RING_SIZE - idx)
                    off = self.base + OFF_RSP + idx
                    out += self.mm[off:off + n]
                    cons += n
                    avail -= n
                self.put(OFF_RSP_CONS, cons)
                self.kick()
                return bytes(out)
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self._wait_notify(left)


def hv_register(hv_path, domid, mem_fd, kick_fd, notify_fd,
                magic=HV_MAGIC, op=HV_OP_REGISTER, timeout=5.0):
    """Register a domain's memory with the daemon's hv.sock.

    Returns (socket, status).  The socket must stay open while the domain
    lives; closing it tells the daemon the domain died.
    """
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(timeout)
    s.connect(hv_path)
    socket.send_fds(s, [HV_MSG.pack(magic, op, domid, 0)],
                    [mem_fd, kick_fd, notify_fd])
    reply = s.recv(64)
    if len(reply) != HV_REPLY.size:
        s.close()
        raise XsProtocolError("hv reply of %d bytes: %r" % (len(reply), reply))
    rmagic, status = HV_REPLY.unpack(reply)
    if rmagic != HV_MAGIC:
        s.close()
        raise XsProtocolError("hv reply magic %#x" % rmagic)
    return s, status


class GuestDomain:
    """A fake guest: memory in a memfd, its xenstore page, two eventfds.

    register() hands the memory to the daemon through hv.sock,
    introduce() makes dom0 send XS_INTRODUCE, and .conn then speaks the
    wire protocol through the ring with this domain's identity.
    """

    def __init__(self, hv_path, domid, dom0, gfn=3, pages=8, evtchn=5,
                 timeout=DEFAULT_TIMEOUT):
        self.hv_path = hv_path
        self.domid = domid
        self.dom0 = dom0
        self.gfn = gfn
        self.evtchn = evtchn
        self.size = pages * PAGE_SIZE
        self.mem_fd = os.memfd_create("guest%d-ram" % domid)
        os.ftruncate(self.mem_fd, self.size)
        self.mm = mmap.mmap(self.mem_fd, self.size)
        self.kick_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self.notify_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self.hv_sock = None
        self.conn = RingConnection(self.mm, gfn, self.kick_fd,
                                   self.notify_fd, timeout)
        self.home = "/local/domain/%d" % domid

    def register(self):
        self.hv_sock, status = hv_register(self.hv_path, self.domid,
                                           self.mem_fd, self.kick_fd,
                                           self.notify_fd)
        return status

    def introduce(self):
        self.dom0.introduce(self.domid, self.gfn, self.evtchn)

    def make_home(self):
        """What a toolstack does: /local/domain/N owned by the domain."""
        self.dom0.mkdir(self.home)
        self.dom0.set_perms(self.home, ["n%d" % self.domid])

    def start(self, make_home=True):
        status = self.register()
        if status != 0:
            raise OSError(-status, "hv register of dom%d failed: %s"
                          % (self.domid, os.strerror(-status)))
        if make_home:
            self.make_home()
        self.introduce()
        return self

    def die(self):
        """The domain dies: its hv.sock connection closes."""
        if self.hv_sock is not None:
            self.hv_sock.close()
            self.hv_sock = None

    def close(self):
        self.die()
        self.conn.closed = True
        for fd in (self.kick_fd, self.notify_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        self.kick_fd = self.notify_fd = -1
        self.conn.words.release()
        try:
            self.mm.close()
        except BufferError:
            pass
        try:
            os.close(self.mem_fd)
        except OSError:
            pass

