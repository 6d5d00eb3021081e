#!/usr/bin/python3
"""registry_server.py - a small imitation of a Confluent-compatible schema
registry with fault controls, for the tests that inject faults a real registry
cannot be told to make (503s for some paths only, delays, basic auth); every
other registry test uses a real one, Apicurio Registry
(scripts/schema-registry.sh). Python 3 standard library only.

usage: registry_server.py SCHEMAS_DIR

Serves every SCHEMAS_DIR/N.avsc as Avro schema id N (N.proto as a PROTOBUF
schema), listens on 127.0.0.1 on a free port and prints that port as its
first line of output. It exits when its parent process goes away.

Confluent API subset:
  GET  /schemas/ids/{id}              {"schema": "..."} (schemaType if not Avro)
                                      404 {"error_code":40403,"message":"Schema not found"}
  POST /subjects/{subject}/versions   {"schema": "..."} -> {"id": N}; a schema
                                      already registered keeps its id
  GET  /subjects/{subject}/versions/latest
  anything else                       404 {"error_code":404,"message":"HTTP 404 Not Found"}

Test controls (never failed or delayed):
  POST /_control  {"fail": 503}       answer every API request with that status
                  {"fail": 503, "fail_prefix": "/schemas/ids/"}
                                      ... only requests whose path starts so
                  {"fail": 0}         back to normal
                  {"delay_ms": N}     answer API requests after N ms
                  {"auth": "u:p"}     require HTTP basic auth ("" = none)
  GET  /_stats    {"requests": {"GET /schemas/ids/101": 1, ...}, "total": N}
"""
import base64
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CT = "application/vnd.schemaregistry.v1+json"


class Registry:
    def __init__(self, schemas_dir):
        self.lock = threading.Lock()
        self.schemas = {}        # id -> (schema text, schemaType)
        self.subjects = {}       # subject -> [id, ...] (versions in order)
        for name in sorted(os.listdir(schemas_dir)):
            stem, ext = os.path.splitext(name)
            if stem.isdigit() and ext in (".avsc", ".proto"):
                with open(os.path.join(schemas_dir, name)) as f:
                    self.schemas[int(stem)] = (f.read(), "AVRO" if ext == ".avsc" else "PROTOBUF")
        self.fail = 0
        self.fail_prefix = ""
        self.delay_ms = 0
        self.auth = ""
        self.requests = {}
        self.total = 0

    @staticmethod
    def canonical(text):
        try:
            return json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))
        except ValueError:
            return None

    def register(self, subject, text):
        canon = self.canonical(text)
        if canon is None:
            return 422, {"error_code": 42201, "message": "Invalid schema"}
        for sid, (existing, stype) in self.schemas.items():
            if stype == "AVRO" and self.canonical(existing) == canon:
                break
        else:
            sid = max(list(self.schemas) + [100]) + 1
            self.schemas[sid] = (text, "AVRO")
        versions = self.subjects.setdefault(subject, [])
        if sid not in versions:
            versions.append(sid)
        return 200, {"id": sid}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    registry = None

    def log_message(self, fmt, *args):  # quiet
        pass

    def reply(self, status, obj, ctype=CT):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def handle_any(self, method):
        reg = self.registry
        path = self.path
        if path == "/_stats":
            with reg.lock:
                return self.reply(200, {"requests": reg.requests, "total": reg.total},
                                  "application/json")
        if path == "/_control" and method == "POST":
            ctl = json.loads(self.body() or b"{}")
            with reg.lock:
                reg.fail = int(ctl.get("fail", reg.fail))
                reg.fail_prefix = ctl.get("fail_prefix", "")
                reg.delay_ms = int(ctl.get("delay_ms", reg.delay_ms))
                reg.auth = ctl.get("auth", reg.auth)
            return self.reply(200, {"ok": True}, "application/json")

        body = self.body() if method == "POST" else b""
        with reg.lock:
            key = "%s %s" % (method, path)
            reg.requests[key] = reg.requests.get(key, 0) + 1
            reg.total += 1
            fail = reg.fail if path.startswith(reg.fail_prefix) else 0
            delay_ms, auth = reg.delay_ms, reg.auth
        if delay_ms:
            time.sleep(delay_ms / 1000.0)
        if fail:
            return self.reply(fail, {"error_code": fail * 100 + 1,
                                     "message": "test registry told to fail"})
        if auth:
            want = "Basic " + base64.b64encode(auth.encode()).decode()
            if self.headers.get("Authorization") != want:
                return self.reply(401, {"error_code": 401, "message": "Unauthorized"})

        parts = path.split("/")
        with reg.lock:
            if method == "GET" and len(parts) == 4 and parts[1:3] == ["schemas", "ids"] \
                    and parts[3].isdigit():
                entry = reg.schemas.get(int(parts[3]))
                if not entry:
                    return self.reply(404, {"error_code": 40403, "message": "Schema not found"})
                text, stype = entry
                obj = {"schema": text}
                if stype != "AVRO":
                    obj["schemaType"] = stype
                return self.reply(200, obj)
            if method == "POST" and len(parts) == 4 and parts[1] == "subjects" \
                    and parts[3] == "versions":
                if self.headers.get("Content-Type", "").split(";")[0] not in (
                        CT, "application/vnd.schemaregistry+json", "application/json"):
                    return self.reply(415, {"error_code": 415, "message": "Unsupported Media Type"})
                try:
                    text = json.loads(body)["schema"]
                except (ValueError, KeyError, TypeError):
                    return self.reply(422, {"error_code": 42201, "message": "Invalid schema"})
                status, obj = reg.register(parts[2], text)
                return self.reply(status, obj)
            if method == "GET" and len(parts) == 5 and parts[1] == "subjects" \
                    and parts[3:] == ["versions", "latest"]:
                versions = reg.subjects.get(parts[2])
                if not versions:
                    return self.reply(404, {"error_code": 40401, "message": "Subject not found"})
                sid = versions[-1]
                return self.reply(200, {"subject": parts[2], "version": len(versions),
                                        "id": sid, "schema": reg.schemas[sid][0]})
        return self.reply(404, {"error_code": 404, "message": "HTTP 404 Not Found"})

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that gave up (a timeout test) is not an error here.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    Handler.registry = Registry(sys.argv[1])
    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)

    parent = os.getppid()

    def watch_parent():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch_parent, daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
