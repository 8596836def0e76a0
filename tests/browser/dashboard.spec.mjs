// End-to-end check of /dashboard in a real browser: starts `streamrec demo`
// (embedded broker + synthetic feed + pipeline + HTTP), drives Debian's
// chromium through playwright-core, and asserts that fresh lists appear and
// change, that the live numbers move, and that a typed user id shows that
// user's list. Saves a screenshot for a human to look at.
//
// Usage: node dashboard.spec.mjs <streamrec binary> <screenshot.png>
// Exit code 0 = pass; anything else = fail (with the reason on stderr).

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [binary, screenshot] = process.argv.slice(2);
if (!binary || !screenshot) {
  console.error("usage: node dashboard.spec.mjs <streamrec binary> <screenshot.png>");
  process.exit(2);
}
const kChromium = process.env.STREAMREC_CHROMIUM || "/usr/bin/chromium";
const kWaitMs = 20000;

function check(condition, message) {
  if (!condition) throw new Error(message);
  console.log("ok - " + message);
}

// A port the kernel says is free now (the demo binds it a moment later).
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// Starts the demo; resolves with the dashboard URL it prints first.
function startDemo(port) {
  const demo = spawn(binary, ["demo", "--port", "0", "--set", `http.listen=127.0.0.1:${port}`, "--duration", "40s",
                              "--set", "log.level=warn"], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  demo.stderr.on("data", (d) => { stderr += d; });
  const url = new Promise((resolve, reject) => {
    let stdout = "";
    demo.stdout.on("data", (d) => {
      stdout += d;
      const first = stdout.split("\n")[0];
      if (stdout.includes("\n")) {
        const match = first.match(/dashboard at (http:\/\/\S+)/);
        if (match) resolve(match[1]);
        else reject(new Error("the demo's first line is not the dashboard URL: " + first));
      }
    });
    demo.on("exit", (code) => reject(new Error(`streamrec demo exited (${code}) before serving:\n${stderr}`)));
    setTimeout(() => reject(new Error("no dashboard URL within 15 s:\n" + stderr)), 15000);
  });
  return { demo, url, stderr: () => stderr };
}

async function main() {
  const port = await freePort();
  const { demo, url: urlPromise, stderr } = startDemo(port);
  const profile = mkdtempSync(join(tmpdir(), "streamrec-chromium-"));
  let context;
  try {
    const url = await urlPromise;
    check(url === `http://127.0.0.1:${port}/dashboard`, `the demo prints the dashboard URL first (${url})`);

    context = await chromium.launchPersistentContext(profile, {
      executablePath: kChromium,
      headless: true,
      viewport: { width: 1400, height: 900 },
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    const page = context.pages()[0] || (await context.newPage());
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    const external = [];
    page.on("request", (r) => { if (!r.url().startsWith(`http://127.0.0.1:${port}/`)) external.push(r.url()); });

    await page.goto(url);
    check((await page.title()) === "streamrec live", "the dashboard loads");

    // Lists appear (the consumer joins its group within a few seconds).
    const firstUser = page.locator("#lists tr td.user a").first();
    await firstUser.waitFor({ timeout: kWaitMs });
    const before = await page.locator("#lists").innerText();
    check((await page.locator("#lists tr").count()) > 0, "fresh lists appear");

    // ... and change as new events arrive.
    await page.waitForFunction((old) => document.querySelector("#lists").innerText !== old, before,
                               { timeout: kWaitMs });
    check(true, "the lists change");

    // Live numbers: events/s is a positive number, freshness is shown.
    await page.waitForFunction(() => parseFloat(document.querySelector("#events-rate").textContent) > 0, null,
                               { timeout: kWaitMs });
    check(true, "events/s is live: " + (await page.locator("#events-rate").innerText()));
    await page.waitForFunction(() => document.querySelector("#fresh-p99").textContent !== "–", null,
                               { timeout: kWaitMs });
    check(true, "freshness p50/p99: " + (await page.locator("#fresh-p50").innerText()) + " / " +
                (await page.locator("#fresh-p99").innerText()));
    check((await page.locator("#status").innerText()) === "live", "the stream is live");

    // Watch a user who just acted: type their id, see their list.
    const user = await page.locator("#lists tr td.user a").first().getAttribute("data-user");
    await page.fill("#pin-input", user);
    await page.press("#pin-input", "Enter");
    await page.locator("#pinned-items li").first().waitFor({ timeout: kWaitMs });
    const meta = await page.locator("#pinned-meta").innerText();
    check(meta.startsWith("user " + user + " "), `the watched user's list shows (${meta})`);
    check((await page.locator("#pinned-items li").count()) === 10, "the watched list has 10 items");

    // Let a few more lists flow in, so the screenshot shows a busy page.
    await page.waitForTimeout(1500);
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log("screenshot: " + screenshot);

    check(errors.length === 0, "no script errors" + (errors.length ? ": " + errors.join("; ") : ""));
    check(external.length === 0, "no request leaves the server (no CDN)" + (external.length ? ": " + external : ""));
  } finally {
    if (context) await context.close();
    rmSync(profile, { recursive: true, force: true });
    const exited = new Promise((resolve) => demo.on("exit", resolve));
    if (demo.exitCode === null) demo.kill("SIGINT");
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r("timeout"), 15000))]);
    if (code !== 0 && code !== null) console.error(`streamrec demo ended with ${code}:\n${stderr()}`);
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error("FAIL: " + e.message);
    process.exit(1);
  });
