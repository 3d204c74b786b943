// The dashboard in headless Chromium, driven by playwright-core: run by micro-cli/tests/web.rs,
// which starts the services and `micro web`, and answers this script's "need:" lines on stdin.
//
//   node dashboard.cjs BASE_URL SCREENSHOT_DIR
"use strict";

const { chromium } = require("playwright-core");
const readline = require("readline");
const path = require("path");

const [base, shots] = process.argv.slice(2);
const input = readline.createInterface({ input: process.stdin });
const answers = input[Symbol.asyncIterator]();
const WAIT = 20000;

// Asks the Rust side to do something (start or stop a service) and waits for its "ok".
async function need(what) {
  console.log("need: " + what);
  const { value } = await answers.next();
  if (value !== "ok") throw new Error("no ok for " + what + ": " + value);
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("dialog", (dialog) => { errors.push("a dialog opened: " + dialog.message()); dialog.dismiss(); });

  // The services list.
  await page.goto(base + "/");
  await page.waitForSelector('tr[data-service="greeter"]', { timeout: WAIT });
  await page.waitForSelector('tr[data-service="streamer"]', { timeout: WAIT });
  // Live: a service appears and disappears without a reload.
  await page.waitForFunction(() => document.querySelector("#live").textContent !== "", null, { timeout: WAIT });
  await need("start catalog");
  await page.waitForSelector('tr[data-service="catalog"]', { timeout: WAIT });
  await page.screenshot({ path: path.join(shots, "services.png") });
  await need("stop catalog");
  await page.waitForSelector('tr[data-service="catalog"]', { state: "detached", timeout: WAIT });
  console.log("step: the list follows the registry");

  // A call from the form generated from the schema: the reply and its latency.
  await page.click('a[href="/service/greeter"]');
  const hello = page.locator('article[data-endpoint="Greeter.Hello"]');
  await hello.getByLabel("name").fill("John");
  await hello.getByRole("button", { name: "Call" }).click();
  await hello.locator(".reply:not([hidden])").waitFor({ timeout: WAIT });
  check((await hello.locator(".reply").textContent()).includes('"greeting": "Hello John"'), "no greeting");
  check(/Answered in [0-9.]+ ms/.test(await hello.locator(".latency").textContent()), "no latency");
  // Health of every node.
  await page.getByRole("button", { name: "Check health" }).click();
  await page.locator("#health-table:not([hidden]) td", { hasText: "ok" }).waitFor({ timeout: WAIT });
  await page.screenshot({ path: path.join(shots, "service.png"), fullPage: true });
  // The service's error: its id, code and detail.
  await hello.getByLabel("name").fill("");
  await hello.getByRole("button", { name: "Call" }).click();
  await hello.locator(".error:not([hidden])").waitFor({ timeout: WAIT });
  check(await hello.locator(".error-code").textContent() === "400", "no 400");
  check(await hello.locator(".error-id").textContent() === "greeter", "no error id");
  console.log("step: calls, errors and health");

  // A server stream over a WebSocket, message by message.
  await page.goto(base + "/service/streamer");
  const countdown = page.locator('article[data-endpoint="Streamer.Countdown"]');
  await countdown.locator("textarea").fill('{"from": 3}');
  await countdown.getByRole("button", { name: "Open stream" }).click();
  await countdown.locator(".stream-status", { hasText: "Ended after 3 messages." }).waitFor({ timeout: WAIT })
    .catch(async (error) => {
      const status = await countdown.locator(".stream-status").textContent();
      const got = await countdown.locator(".messages li").allTextContents();
      throw new Error("the stream did not end with 3 messages: status " + JSON.stringify(status)
        + ", messages " + JSON.stringify(got) + "\n" + error.message);
    });
  const values = await countdown.locator(".messages li").allTextContents();
  check(JSON.stringify(values) === JSON.stringify(['{"value":3}', '{"value":2}', '{"value":1}']), "stream: " + values);
  await countdown.screenshot({ path: path.join(shots, "stream.png") });
  console.log("step: a stream");

  // Topics: watch one, publish to it, see the message arrive.
  await page.goto(base + "/topics");
  await page.locator("#watch-topic").fill("news");
  await page.locator("#watch").getByRole("button", { name: "Watch" }).click();
  await page.locator("#watch-status", { hasText: "Watching news." }).waitFor({ timeout: WAIT });
  await page.locator("#publish-topic").fill("news");
  await page.locator("#publish-message").fill('{"name": "hello from the dashboard"}');
  await page.locator("#publish").getByRole("button", { name: "Publish" }).click();
  await page.locator("#watched li", { hasText: "hello from the dashboard" }).waitFor({ timeout: WAIT });
  await page.screenshot({ path: path.join(shots, "topics.png") });
  console.log("step: topics");

  // A service whose name is markup appears live, as text: no element made, no script run.
  await page.goto(base + "/");
  await page.waitForFunction(() => document.querySelector("#live").textContent !== "", null, { timeout: WAIT });
  await need("register a hostile name");
  await page.locator("#services a", { hasText: "<img src=x onerror=alert(1)>" }).waitFor({ timeout: WAIT });
  check(await page.locator("#services img").count() === 0, "markup from the registry made an element");
  await page.reload();
  await page.locator("#services a", { hasText: "<img src=x onerror=alert(1)>" }).waitFor({ timeout: WAIT });
  check(await page.locator("#services img").count() === 0, "markup from the registry made an element");
  console.log("step: markup stays text");

  check(errors.length === 0, "page errors: " + errors.join("; "));
  await browser.close();
}

main().then(
  () => { console.log("done"); process.exit(0); },
  (error) => { console.error(error.stack || String(error)); process.exit(1); },
);
