"""What bench/serve_bench.py and bench/serve_soak.py share: a kforge serve started on a free port, and requests to
it, with the standard library only."""
import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Server:
    """`kforge serve --port 0 ARGS` in the source tree, until stop()."""

    def __init__(self, kforge, args=(), env=None):
        self.process = subprocess.Popen([kforge, "serve", "--port", "0", *args], cwd=ROOT, env=env,
                                        stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        match = re.search(r"listening on (http://\S+)", line)
        if not match:
            raise RuntimeError("kforge serve did not start: " + line)
        self.url = match.group(1)

    def verify(self, task, source, wait=600, **options):
        """(HTTP status, answer as JSON, seconds end to end); `options` are the request's other fields."""
        body = json.dumps({"task": task, "source": source, **options}).encode()
        request = urllib.request.Request(self.url + "/v1/verify", data=body,
                                         headers={"Content-Type": "application/json"})
        start = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=wait) as answer:
                status, text = answer.status, answer.read()
        except urllib.error.HTTPError as refused:
            status, text = refused.code, refused.read()
        seconds = time.perf_counter() - start
        answer = json.loads(text)
        if isinstance(answer, dict) and "error" in answer and isinstance(answer.get("status"), int):
            status = answer["status"]  # a streamed answer that failed says its status in the body
        return status, answer, seconds

    def health(self):
        with urllib.request.urlopen(self.url + "/v1/health", timeout=30) as answer:
            return json.loads(answer.read())

    def stop(self, timeout=120):
        self.process.terminate()
        code = self.process.wait(timeout=timeout)
        self.process.stdout.read()
        return code


def read(relative):
    with open(os.path.join(ROOT, relative)) as f:
        return f.read()
