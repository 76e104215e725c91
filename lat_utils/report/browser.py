"""A headless Chromium, driven from Python, to see the reports as a reader's browser shows them.

Chromium is started with ``--remote-debugging-pipe`` and spoken to with the DevTools protocol over
two pipes (JSON messages ended by a NUL byte): no Python package and no driver binary beyond the
browser itself (Debian: ``apt-get install chromium``). Pages are opened from ``file://`` URLs;
every other host is made unresolvable, so a page is judged as a reader without network sees it.

- :func:`inspect_page` loads a page and reports its title, every image's natural width and the
  output blocks that show an error or a warning;
- :func:`screenshot` saves a PNG of a whole page:
  ``python -m lat_utils.report.browser screenshot reports/quick/index.html figures/quick/report_index.png``.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

CHROMIUM_ENV = "LAT_CHROMIUM"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")

# Output blocks a reader sees as a warning or an error: nbconvert's lab template renders stderr
# streams and errors as data-mime-type="application/vnd.jupyter.stderr"; its classic template
# uses the classes output_stderr and output_error.
ALARM_SELECTOR = ('[data-mime-type="application/vnd.jupyter.stderr"], .output_stderr, .output_error, '
                  '.jp-OutputArea-output.jp-mod-error')

_INSPECT_SCRIPT = """(() => {
  const alarms = Array.from(document.querySelectorAll(%s)).map(e => e.innerText.slice(0, 300));
  return {
    title: document.title,
    ready: document.readyState,
    text_length: document.body ? document.body.innerText.length : 0,
    images: Array.from(document.images).map(i => ({src: i.src.slice(0, 200), width: i.naturalWidth})),
    alarms: alarms,
  };
})()""" % json.dumps(ALARM_SELECTOR)


class BrowserError(RuntimeError):
    pass


@dataclass
class PageReport:
    """What a page showed once loaded."""

    url: str
    title: str
    ready_state: str
    text_length: int
    images: list[tuple[str, int]]  # (src, natural width): 0 means the image did not load
    alarms: list[str]              # text of every output block shown as an error or warning

    @property
    def broken_images(self) -> list[str]:
        return [src for src, width in self.images if width <= 0]


def find_chromium() -> str | None:
    """The Chromium (or Chrome) executable: ``$LAT_CHROMIUM``, else the first of the usual names on PATH."""
    if os.environ.get(CHROMIUM_ENV):
        return os.environ[CHROMIUM_ENV]
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


class Chromium:
    """A headless Chromium with one page: ``with Chromium() as browser: browser.open(path)``."""

    def __init__(self, executable: str | None = None, width: int = 1280, height: int = 900,
                 timeout: float = 60.0) -> None:
        self.executable = executable or find_chromium()
        if not self.executable:
            raise BrowserError("no Chromium found: install it (Debian: apt-get install chromium) "
                               f"or set {CHROMIUM_ENV}")
        self.width, self.height, self.timeout = width, height, timeout
        self._next_id = 0
        self._buffer = b""

    def __enter__(self) -> Chromium:
        self._profile = tempfile.TemporaryDirectory(prefix="lat-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire_pipes() -> None:  # in the child: the protocol expects fd 3 (commands) and fd 4 (replies)
            commands, replies = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_browser_r, from_browser_w))
            os.dup2(commands, 3)  # dup2 makes them inheritable: exec keeps them open
            os.dup2(replies, 4)

        args = [self.executable, "--headless=new", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--hide-scrollbars",
                "--allow-file-access-from-files", "--host-resolver-rules=MAP * ~NOTFOUND",
                f"--user-data-dir={self._profile.name}", f"--window-size={self.width},{self.height}", "about:blank"]
        self._process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, preexec_fn=wire_pipes, close_fds=False)
        os.close(to_browser_r)
        os.close(from_browser_w)
        target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self._session = self._call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self._call("Page.enable", session=True)
        self._call("Emulation.setDeviceMetricsOverride",
                   {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False}, session=True)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._call("Browser.close")
        except (BrowserError, OSError):
            pass
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)
        self._profile.cleanup()

    def open(self, path: str | Path) -> str:
        """Load the file at ``path`` and wait until it and its images have loaded; its URL."""
        url = Path(path).resolve().as_uri()
        self._call("Page.navigate", {"url": url}, session=True)
        deadline = time.monotonic() + self.timeout
        while not self.evaluate("document.readyState === 'complete' && "
                                "Array.from(document.images).every(i => i.complete)"):
            if time.monotonic() > deadline:
                raise BrowserError(f"{url} did not finish loading in {self.timeout:.0f} s")
            time.sleep(0.1)
        return url

    def evaluate(self, expression: str) -> object:
        """The value of a JavaScript expression in the page."""
        reply = self._call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=True)
        if "exceptionDetails" in reply:
            raise BrowserError(f"JavaScript failed: {reply['exceptionDetails'].get('text')}")
        return reply["result"].get("value")

    def screenshot(self, png: str | Path) -> None:
        """Save the whole page (not just the window) as a PNG."""
        height = int(self.evaluate("Math.ceil(document.documentElement.scrollHeight)"))
        self._call("Emulation.setDeviceMetricsOverride",
                   {"width": self.width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session=True)
        data = self._call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=True)
        Path(png).parent.mkdir(parents=True, exist_ok=True)
        Path(png).write_bytes(base64.b64decode(data["data"]))

    # --- the DevTools protocol over the pipe

    def _call(self, method: str, params: dict | None = None, session: bool = False) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self._session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:  # events arrive between replies; they are not needed here
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._from_browser], [], [], remaining)[0]:
                raise BrowserError(f"Chromium did not answer in {self.timeout:.0f} s")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise BrowserError(f"Chromium exited (code {self._process.poll()})")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)


def inspect_page(path: str | Path, browser: Chromium | None = None) -> PageReport:
    """Load ``path`` in headless Chromium (``browser``, or a new one) and report what it shows."""
    if browser is None:
        with Chromium() as fresh:
            return inspect_page(path, fresh)
    url = browser.open(path)
    found = browser.evaluate(_INSPECT_SCRIPT)
    return PageReport(url=url, title=found["title"], ready_state=found["ready"], text_length=found["text_length"],
                      images=[(i["src"], i["width"]) for i in found["images"]], alarms=found["alarms"])


def screenshot(path: str | Path, png: str | Path, width: int = 1280) -> None:
    """Save a PNG of the whole page at ``path``, as headless Chromium renders it ``width`` pixels wide."""
    with Chromium(width=width) as browser:
        browser.open(path)
        browser.screenshot(png)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Look at the reports in headless Chromium.")
    commands = parser.add_subparsers(dest="command", required=True)
    shot = commands.add_parser("screenshot", help="save a PNG of a whole page")
    shot.add_argument("page", help="an HTML file, e.g. reports/quick/index.html")
    shot.add_argument("png", help="where to save the PNG, e.g. figures/quick/report_index.png")
    shot.add_argument("--width", type=int, default=1280, help="window width in pixels (default 1280)")
    check = commands.add_parser("check", help="load pages; report broken images and error/warning blocks")
    check.add_argument("pages", nargs="+", help="HTML files")
    args = parser.parse_args(argv)
    if args.command == "screenshot":
        screenshot(args.page, args.png, args.width)
        print(f"wrote {args.png}")
        return 0
    failed = False
    with Chromium() as browser:
        for page in args.pages:
            report = inspect_page(page, browser)
            problems = [f"image not loaded: {src}" for src in report.broken_images]
            problems += [f"error/warning block: {text!r}" for text in report.alarms]
            failed |= bool(problems)
            print(f"{page}: {len(report.images)} images, " + ("OK" if not problems else "; ".join(problems)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
