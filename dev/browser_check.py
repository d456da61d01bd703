"""Check the Latent Upscale script in a running WebUI's page with a headless browser.

A maintainer's tool, not part of the test suite or CI: start a WebUI (AUTOMATIC1111 1.6-1.10,
Forge, reForge) with the extension installed and any checkpoint loaded, then run

    python dev/browser_check.py --url http://127.0.0.1:7860 --screenshots shots/

It needs Playwright (``pip install playwright``) and a Chromium: ``--chromium`` (default
``/usr/bin/chromium``, Debian's package) or Playwright's own browser where one is installed.
It drives the img2img tab as a person would: it lists and selects the script, looks at its six
controls and their defaults, runs one small job (a generated 64x64 picture upscaled by 2 in two
latent passes with *Just resize (latent upscale)*: 128x128 whatever the width and height say),
reads the generation info and the image's size, pastes the parameters back (the ↙ button, the
same text without the pass keys, and PNG Info → *Send to img2img*), and looks at the X/Y/Z plot's
axes. It prints one PASS/FAIL line per check and exits 1 if any fails.
Selectors are the WebUI's ``elem_id``s and visible labels, which Gradio 3 (A1111, reForge) and
Gradio 4 (Forge) pages share.
"""

from __future__ import annotations

import argparse
import base64
import re
import struct
import sys
import tempfile
import time
import zlib
from pathlib import Path

SCRIPT_TITLE = "Latent Upscale"
# the controls' elem_ids (the WebUI's Script.elem_id) and their defaults, as labels
METHOD_ID = "script_latent_upscale_method"
SCHEDULER_ID = "script_latent_upscale_scheduler"
FULL_STEPS_ID = "script_latent_upscale_full_steps"
# the three sliders of "Upscale by a factor, in several passes"
SLIDER_IDS = (
    "script_latent_upscale_scale",
    "script_latent_upscale_passes",
    "script_latent_upscale_later_denoise",
)
CONTROL_NAMES = (
    "method",
    "scheduler",
    "full steps",
    "Upscale by",
    "Passes",
    "Later denoise",
)
# (method, scheduler, full steps, upscale by, passes, later passes' denoise)
Values = tuple[str, str, bool, float, float, float]
DEFAULTS: Values = ("Nearest (exact)", "Simple", True, 0, 1, 0.4)
# the job runs with non-default values, and the controls are set to other values again before
# each paste, so a restore cannot pass by accident
JOB_VALUES: Values = ("Lanczos", "Karras", False, 2, 2, 0.3)
DECOY_VALUES: Values = ("Bislerp", "Exponential", True, 1.5, 3, 0.6)
INIT_SIZE = 64  # the generated init picture; the job's width and height are set apart from it
FORM_SIZE = 96  # width and height on the page: Upscale by must win over them
JOB_SIZE = 128  # 64 x 2
INFOTEXT_KEYS = (
    "Latent upscale method",
    "Latent upscale scheduler",
    "Latent upscale full steps",
    "Latent upscale by",
    "Latent upscale passes",
    "Latent upscale later denoise",
)
PASS_KEYS = INFOTEXT_KEYS[3:]
XYZ_AXES = (
    "[Latent Upscale] Method",
    "[Latent Upscale] Scheduler",
    "[Latent Upscale] Full steps",
    "[Latent Upscale] Upscale by",
    "[Latent Upscale] Passes",
    "[Latent Upscale] Later denoise",
)
RESIZE_MODE = "Just resize (latent upscale)"
# console errors every offline page shows, with or without the extension
KNOWN_CONSOLE_ERRORS = (
    "net::ERR_NAME_NOT_RESOLVED",  # a CDN script (no network)
    "net::ERR_INTERNET_DISCONNECTED",
    "reading 'props'",  # Gradio 3 while txt2img's size and Hires. fix controls change
)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def sample_png(size: int = INIT_SIZE) -> bytes:
    """A small RGB PNG (gradients and a block), made without Pillow."""
    rows = []
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            block = size // 4 <= y < size // 2 and size // 4 <= x < 3 * size // 4
            r, g, b = (230, 50, 30) if block else (x * 255 // size, y * 255 // size, 128)
            row += bytes((r, g, b))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


def png_size(data: bytes) -> tuple[int, int] | None:
    """A PNG's width and height from its IHDR chunk."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n") or data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


def same_values(got: tuple | None, expected: tuple) -> bool:
    """Control values equal, numbers within a slider step's rounding."""
    if got is None or len(got) != len(expected):
        return False
    for g, e in zip(got, expected, strict=True):
        if isinstance(e, (bool, str)):
            if g != e:
                return False
        elif not isinstance(g, float) or abs(g - e) > 1e-6:
            return False
    return True


def without_pass_keys(infotext: str) -> str:
    """The infotext with the Upscale by / Passes / later denoise entries taken out."""
    keys = "|".join(re.escape(k) for k in PASS_KEYS)
    return re.sub(rf",\s*(?:{keys}):\s*[^,\n]*", "", infotext)


class Checker:
    def __init__(self, page, args):
        self.page = page
        self.timeout_ms = int(args.timeout * 1000)
        self.shots = Path(args.screenshots) if args.screenshots else None
        if self.shots:
            self.shots.mkdir(parents=True, exist_ok=True)
        self.results: list[tuple[str, bool, str]] = []
        self.console_errors: list[str] = []
        self.decoy_note = ""  # set by reset_script when the controls did not take other values
        self.shot_no = 0

    # -- reporting
    def report(self, name: str, ok: bool, detail: str = "") -> bool:
        self.results.append((name, ok, detail))
        print(f"{'PASS' if ok else 'FAIL'} {name}" + (f": {detail}" if detail else ""), flush=True)
        return ok

    def shot(self, label: str) -> None:
        if self.shots:
            self.shot_no += 1
            path = self.shots / f"{self.shot_no:02d}-{label}.png"
            self.page.screenshot(path=str(path), full_page=True)

    def shot_element(self, label: str, selector: str) -> None:
        """A close-up of one element (the script's controls), at the page's own scale."""
        element = self.page.locator(selector).first
        if self.shots and element.count() and element.is_visible():
            self.shot_no += 1
            element.screenshot(path=str(self.shots / f"{self.shot_no:02d}-{label}.png"))

    # -- page helpers
    def tab(self, name: str) -> None:
        """Open a top-level tab by its visible name, in any letter case (Forge: "Img2img")."""
        text = re.compile(rf"^\s*{re.escape(name)}\s*$", re.IGNORECASE)
        # the top tab bar is #tabs' own (a tab's sub-tabs, e.g. img2img's "img2img", are deeper)
        buttons = self.page.locator("#tabs > .tab-nav button", has_text=text)
        if buttons.count() == 0:
            buttons = self.page.locator("#tabs .tab-nav button", has_text=text)
        visible = [b for b in buttons.all() if b.is_visible()]
        (visible[0] if visible else buttons.first).click()
        self.page.wait_for_timeout(300)

    def script_dropdown(self):
        return self.page.locator("#img2img_script_container #script_list").first

    def open_options(self, block) -> list[str]:
        """Open a dropdown and return its option texts (the list stays open)."""
        field = block.locator("input").first
        options = block.locator("ul.options li")
        field.blur()  # Gradio opens the list on focus: a focused field must lose it first
        field.click()
        if not self.wait_for(lambda: options.first.is_visible(), timeout_ms=3000):
            field.press("ArrowDown")
        options.first.wait_for(state="visible", timeout=self.timeout_ms)
        return [t.strip().lstrip("✓").strip() for t in options.all_inner_texts()]

    def close_options(self, block) -> None:
        block.locator("input").first.blur()
        self.page.wait_for_timeout(200)

    def choose(self, block, value: str) -> str:
        """Select ``value`` in a Gradio dropdown block; returns the value shown afterwards."""
        self.open_options(block)
        item = block.locator("ul.options li", has_text=re.compile(rf"^\W*{re.escape(value)}\s*$"))
        item.first.click()
        self.page.wait_for_timeout(300)
        return self.dropdown_value(block)

    @staticmethod
    def dropdown_value(block) -> str:
        return block.locator("input").first.input_value()

    def set_number(self, elem_id: str, value: float) -> None:
        field = self.page.locator(f"#{elem_id} input[type=number]").first
        field.fill(str(value))
        field.press("Enter")
        field.blur()

    def slider_field(self, elem_id: str):
        return self.page.locator(f"#{elem_id} input[type=number]").first

    def slider_value(self, elem_id: str) -> float | None:
        """A slider's value as its number field shows it; None where the page has no slider."""
        field = self.slider_field(elem_id)
        if not field.count():
            return None
        text = field.input_value().strip()
        try:
            return float(text)
        except ValueError:
            return None

    def controls(self) -> tuple:
        """The six controls' values (None for a slider the page lacks)."""
        method = self.dropdown_value(self.page.locator(f"#{METHOD_ID}"))
        scheduler = self.dropdown_value(self.page.locator(f"#{SCHEDULER_ID}"))
        full = self.page.locator(f"#{FULL_STEPS_ID} input[type=checkbox]").first.is_checked()
        return (method, scheduler, full, *(self.slider_value(i) for i in SLIDER_IDS))

    def set_controls(self, values: Values) -> None:
        self.choose(self.page.locator(f"#{METHOD_ID}"), values[0])
        self.choose(self.page.locator(f"#{SCHEDULER_ID}"), values[1])
        self.page.locator(f"#{FULL_STEPS_ID} input[type=checkbox]").first.set_checked(values[2])
        for elem_id, value in zip(SLIDER_IDS, values[3:], strict=True):
            if self.slider_field(elem_id).count():  # an extension without the sliders: no job
                self.set_number(elem_id, value)  # option, which the later checks then report
        self.page.wait_for_timeout(300)

    def visible_controls(self) -> dict[str, bool]:
        ids = (METHOD_ID, SCHEDULER_ID, FULL_STEPS_ID, *SLIDER_IDS)
        return {
            name: self.page.locator(f"#{i}").first.is_visible()
            for name, i in zip(CONTROL_NAMES, ids, strict=True)
        }

    def controls_visible(self) -> bool:
        return all(self.visible_controls().values())

    def wait_for(self, predicate, timeout_ms: int | None = None) -> bool:
        deadline = time.monotonic() + (timeout_ms or self.timeout_ms) / 1000
        while time.monotonic() < deadline:
            try:
                if predicate():
                    return True
            except Exception:  # an element re-rendered under us: ask again
                pass
            self.page.wait_for_timeout(250)
        return False

    def reset_script(self, values: Values) -> None:
        """Put the controls on other values and the Script dropdown back on None."""
        self.tab("img2img")
        if self.dropdown_value(self.script_dropdown()) != SCRIPT_TITLE:
            self.choose(self.script_dropdown(), SCRIPT_TITLE)
        self.set_controls(values)
        # a restore proves something only if the controls really left the expected values
        got = self.controls()
        present = [(g, v) for g, v in zip(got, values, strict=True) if g is not None]
        taken = same_values(tuple(g for g, _ in present), tuple(v for _, v in present))
        self.decoy_note = "" if taken else f"; the other values were not taken: {got!r}"
        self.choose(self.script_dropdown(), "None")

    def restored(self, expected: Values) -> tuple[bool, str]:
        ok = self.wait_for(
            lambda: (
                self.dropdown_value(self.script_dropdown()) == SCRIPT_TITLE
                and same_values(self.controls(), expected)
            ),
            timeout_ms=min(self.timeout_ms, 20000),
        )
        got = (self.dropdown_value(self.script_dropdown()), *self.controls())
        note, self.decoy_note = self.decoy_note, ""
        return (
            ok and not note,
            f"Script={got[0]!r}, controls={got[1:]!r}, expected {SCRIPT_TITLE!r}, {expected!r}"
            + note,
        )

    # -- checks
    def run(self, url: str) -> None:
        page = self.page
        page.goto(url, timeout=self.timeout_ms)
        page.wait_for_selector("#tabs", timeout=self.timeout_ms)
        page.wait_for_selector(
            "#img2img_script_container #script_list", state="attached", timeout=self.timeout_ms
        )
        self.tab("img2img")
        self.shot("img2img")

        options = self.open_options(self.script_dropdown())
        self.close_options(self.script_dropdown())
        if not self.report("script listed", SCRIPT_TITLE in options, f"Script choices: {options}"):
            return

        shown = self.choose(self.script_dropdown(), SCRIPT_TITLE)
        self.wait_for(self.controls_visible, timeout_ms=10000)
        seen = self.visible_controls()
        values = self.controls()
        self.shot("script-selected")
        self.shot_element("script-controls", "#img2img_script_container")
        old = (seen["method"], seen["scheduler"], seen["full steps"])
        self.report(
            "controls shown with defaults",
            shown == SCRIPT_TITLE and all(old) and values[:3] == DEFAULTS[:3],
            f"Script={shown!r}, visible={old}, values={values[:3]!r}, expected {DEFAULTS[:3]!r}",
        )
        hidden = [n for n in CONTROL_NAMES[3:] if not seen[n]]
        self.report(
            "pass sliders (Upscale by, Passes, Later denoise) shown with defaults",
            not hidden and same_values(values[3:], DEFAULTS[3:]),
            (f"not shown {hidden}, " if hidden else "")
            + f"values={values[3:]!r}, expected {DEFAULTS[3:]!r}",
        )

        infotext = self.check_job()
        if infotext is None:
            return
        self.check_paste(infotext)
        self.check_paste_without_pass_keys(infotext)
        self.check_pnginfo()
        self.check_xyz()
        unexpected = [
            e for e in self.console_errors if not any(k in e for k in KNOWN_CONSOLE_ERRORS)
        ]
        self.report("no unexpected console errors", not unexpected, "; ".join(unexpected[:5]))

    def check_job(self) -> str | None:
        page = self.page
        self.set_controls(JOB_VALUES)
        with tempfile.TemporaryDirectory() as tmp:
            image = Path(tmp) / "latent-upscale-check.png"
            image.write_bytes(sample_png())
            page.locator("#img2img_image input[type=file]").first.set_input_files(str(image))
            page.wait_for_timeout(1000)
        page.locator("#resize_mode label", has_text=RESIZE_MODE).first.click()
        for elem_id, value in (
            ("img2img_width", FORM_SIZE),
            ("img2img_height", FORM_SIZE),
            ("img2img_steps", 4),
            ("img2img_denoising_strength", 0.5),
        ):
            self.set_number(elem_id, value)
        page.locator("#img2img_prompt textarea").first.fill("a lighthouse on a cliff")
        page.locator("#img2img_seed input").first.fill("1234")
        self.shot("job-ready")
        info = page.locator("#html_info_img2img").first
        before = info.inner_text() if info.count() else ""
        page.locator("#img2img_generate").first.click()
        done = self.wait_for(lambda: info.inner_text() != before and "Steps:" in info.inner_text())
        text = info.inner_text() if info.count() else ""
        self.shot("job-done")
        if not done:
            log = page.locator("#html_log_img2img").first
            detail = log.inner_text()[:500] if log.count() else ""
            self.report(
                "job runs", False, f"no generation info after {self.timeout_ms // 1000} s. {detail}"
            )
            return None
        self.report("job runs", True, text.replace("\n", " | ")[:300])
        missing = [k for k in INFOTEXT_KEYS[:3] if f"{k}:" not in text]
        expected_values = [
            f"Latent upscale scheduler: {JOB_VALUES[1].lower()}",
            f"Latent upscale full steps: {JOB_VALUES[2]}",
        ]
        missing += [v for v in expected_values if v not in text]
        self.report(
            "infotext has the extension's keys",
            not missing,
            f"missing {missing}" if missing else "",
        )
        self.check_job_size(text)
        self.report(
            "infotext has Script: Latent Upscale",
            f"Script: {SCRIPT_TITLE}" in text,
            "" if f"Script: {SCRIPT_TITLE}" in text else "no 'Script: Latent Upscale' entry",
        )
        return text

    def check_job_size(self, text: str) -> None:
        """Upscale by 2 in 2 passes from 64x64: the image, Size and the pass keys say 128x128."""
        size = f"{JOB_SIZE}x{JOB_SIZE}"
        data, src = self.generated_png()
        got = png_size(data)
        self.report(
            f"Upscale by 2 in 2 passes returns a {size} image",
            got == (JOB_SIZE, JOB_SIZE),
            f"gallery image ({src[:80]}) is "
            + (f"{got[0]}x{got[1]}" if got else "not a PNG")
            + f"; the form said {FORM_SIZE}x{FORM_SIZE}, the init is {INIT_SIZE}x{INIT_SIZE}",
        )
        expected = [
            f"Size: {size}",
            f"{PASS_KEYS[0]}: {JOB_VALUES[3]:g}",
            f"{PASS_KEYS[1]}: {JOB_VALUES[4]:g}",
            f"{PASS_KEYS[2]}: {JOB_VALUES[5]:g}",
        ]
        missing = [v for v in expected if v not in text]
        shown = re.search(r"Size: \S+", text)
        self.report(
            f"generation info has Size: {size} and the pass keys",
            not missing,
            f"missing {missing}, info says {shown.group(0) if shown else 'no Size'}"
            if missing
            else "; ".join(expected),
        )

    def check_paste_without_pass_keys(self, infotext: str) -> None:
        """A Latent Upscale infotext without the pass keys (an older image, or one at the
        defaults) puts the sliders back on their defaults."""
        text = without_pass_keys(infotext)
        expected = (*JOB_VALUES[:3], *DEFAULTS[3:])
        self.reset_script(DECOY_VALUES)
        self.page.locator("#img2img_prompt textarea").first.fill(text)
        self.paste_button().click()
        ok, detail = self.restored(expected)
        self.shot("pasted-without-pass-keys")
        self.report("paste without the pass keys restores the sliders' defaults", ok, detail)

    def paste_button(self):
        page = self.page
        paste = page.locator("#img2img_toprow #paste, #img2img_tools #paste")
        if not paste.count():
            paste = page.locator("#img2img_toprow button", has_text="↙")
        return paste.first

    def check_paste(self, infotext: str) -> None:
        page = self.page
        self.reset_script(DECOY_VALUES)
        prompt = page.locator("#img2img_prompt textarea").first
        prompt.fill(infotext)
        self.paste_button().click()
        ok, detail = self.restored(JOB_VALUES)
        self.shot("pasted")
        self.report("paste (↙) selects the script and restores the controls", ok, detail)

    def generated_png(self) -> tuple[bytes, str]:
        """The job's output image as the page serves it, and where it came from."""
        page = self.page
        images = page.locator("#img2img_gallery img")

        def first_src() -> str:
            srcs = [images.nth(i).get_attribute("src") or "" for i in range(images.count())]
            return next((x for x in srcs if x), "")

        self.wait_for(lambda: bool(first_src()), timeout_ms=min(self.timeout_ms, 20000))
        src = first_src()
        if src.startswith("data:"):
            return base64.b64decode(src.split(",", 1)[1]), "data: URL"
        address = src if "://" in src else page.url.rstrip("/") + "/" + src.lstrip("/")
        return page.request.get(address).body(), src

    def check_pnginfo(self) -> None:
        name = "PNG Info -> Send to img2img restores the script"
        page = self.page
        data, src = self.generated_png()
        if not data.startswith(b"\x89PNG"):
            self.report(name, False, f"the gallery image ({src[:120]}) is not a PNG")
            return
        self.reset_script(DECOY_VALUES)
        self.tab("PNG Info")
        panel = page.locator("#tab_pnginfo")
        read, uploads = False, 0
        with tempfile.TemporaryDirectory() as tmp:
            image = Path(tmp) / "generated.png"
            image.write_bytes(data)
            while not read and uploads < 2:  # once more if the first upload was not taken
                uploads += 1
                page.locator("#pnginfo_image input[type=file]").first.set_input_files(str(image))
                read = self.wait_for(
                    lambda: "Latent upscale method" in panel.inner_text(),
                    timeout_ms=min(self.timeout_ms, 20000),
                )
        self.shot("pnginfo")
        if not read:
            shown = panel.inner_text().replace("\n", " | ")[:200]
            self.report(name, False, f"PNG Info shows no Latent Upscale parameters: {shown!r}")
            return
        panel.get_by_role("button", name="Send to img2img").first.click()
        ok, detail = self.restored(JOB_VALUES)
        self.shot("sent-to-img2img")
        self.report(name, ok, detail + (" (after a second upload)" if uploads > 1 else ""))

    def check_xyz(self) -> None:
        page = self.page
        self.tab("img2img")
        self.choose(self.script_dropdown(), "X/Y/Z plot")
        axis = page.locator("#script_img2img_xyz_plot_x_type").first
        axis.wait_for(state="visible", timeout=self.timeout_ms)
        options = self.open_options(axis)
        axis.locator("input").first.fill("Latent Upscale")  # filter the list for the screenshot
        page.wait_for_timeout(300)
        self.shot("xyz-axes")
        self.close_options(axis)
        missing = [a for a in XYZ_AXES if a not in options]
        found = [o for o in options if "Latent Upscale" in o]
        self.report(
            "X/Y/Z plot lists the [Latent Upscale] axes",
            not missing,
            f"found {found}" + (f", missing {missing}" if missing else ""),
        )
        self.choose(self.script_dropdown(), "None")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:7860", help="the WebUI's address")
    parser.add_argument(
        "--timeout", type=float, default=120, help="seconds to wait for the page and for the job"
    )
    parser.add_argument(
        "--screenshots", metavar="DIR", help="save a full-page screenshot after each step here"
    )
    parser.add_argument(
        "--chromium",
        default="/usr/bin/chromium",
        help="Chromium executable ('' for Playwright's own)",
    )
    args = parser.parse_args(argv)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("FAIL setup: Playwright is missing (pip install playwright)")
        return 1

    with sync_playwright() as pw:
        launch = {"args": CHROMIUM_ARGS}
        if args.chromium:
            launch["executable_path"] = args.chromium
        browser = pw.chromium.launch(**launch)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(args.timeout * 1000)
        checker = Checker(page, args)
        page.on(
            "console",
            lambda m: checker.console_errors.append(m.text) if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: checker.console_errors.append(str(e)))
        try:
            checker.run(args.url)
        except Exception as exc:  # a step that could not run at all
            checker.shot("error")
            checker.report(
                "browser session",
                False,
                f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
            )
        finally:
            browser.close()
    failed = [name for name, ok, _ in checker.results if not ok]
    print(f"{len(checker.results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
