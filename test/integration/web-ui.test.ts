/**
 * The live web page in a real headless Chromium against a real 2-node cluster on loopback: the
 * secret from the URL fragment (and gone from the address bar), the processes on their nodes, a
 * migration made with the CLI appearing without a reload, the page's own move control, and a
 * wrong secret told clearly.
 */
import { suite } from "../helpers/suite.ts";
import * as assert from "uvu/assert";
import { type Browser, chromium, type Page } from "playwright-core";
import { SECRET, TestCluster, until } from "../helpers/cluster.ts";

const ui = suite("web page");
let c: TestCluster;
let browser: Browser;

ui.before(async () => {
  c = await TestCluster.create({
    nodes: ["alpha", "beta"],
    modules: ["Tally", "Idle"],
    processes: { tally: "module: Tally, node: alpha", idle: "module: Idle, node: beta" },
  });
  await Promise.all([c.start("alpha"), c.start("beta")]);
  await c.waitRunningOn("tally", "alpha", 30_000);
  await c.waitRunningOn("idle", "beta", 30_000);
  // Playwright gives the browser a fresh temporary profile of its own, removed at close.
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

ui.after(async () => {
  await browser?.close();
  await c?.close();
});

/** A fresh page (its own sessionStorage) that fails the test on any script error. */
async function open(path: string, base = c.url("alpha")): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => void (m.type() === "error" && !/status of 4\d\d/.test(m.text()) && errors.push(m.text())));
  await page.goto(`${base}${path}`);
  return { page, errors };
}

const cellOf = (page: Page, process: string, field: string) => page.locator(`tr[data-process="${process}"] [data-field="${field}"]`);

async function nodeShown(page: Page, process: string, node: string, state = "running"): Promise<void> {
  await until(async () => (await cellOf(page, process, "node").textContent()) === node && (await cellOf(page, process, "state").textContent()) === state, `the page to show ${process} ${state} on ${node}`, 30_000, 50);
}

ui("the page takes the secret from the URL fragment, drops it from the address bar and shows nodes and processes", async () => {
  const { page, errors } = await open(`/ui/#secret=${SECRET}`);
  await nodeShown(page, "tally", "alpha");
  await nodeShown(page, "idle", "beta");
  assert.is(new URL(page.url()).hash, "");
  await until(async () => (await page.locator('tr[data-node="beta"] [data-field="state"]').textContent()) === "up", "beta shown up", 15_000, 50);
  assert.is(await page.locator('tr[data-node="alpha"] [data-field="processes"]').textContent(), "1");
  assert.is(await cellOf(page, "tally", "module").textContent(), "Tally");
  assert.ok(await page.locator("#login").isHidden());
  assert.equal(errors, []);
  await page.context().close();
});

ui("a migration made with the CLI shows on the page without a reload", async () => {
  const { page, errors } = await open(`/ui/#secret=${SECRET}`);
  await nodeShown(page, "tally", "alpha");
  // Marks this document: a reload would lose the mark.
  await page.evaluate(() => ((globalThis as unknown as { marked: boolean }).marked = true));
  const moved = await c.cli(["migrate", "tally", "beta"]);
  assert.is(moved.code, 0, moved.stderr);
  await nodeShown(page, "tally", "beta");
  await until(async () => (await cellOf(page, "tally", "migrations").textContent()) === "1", "one migration shown", 15_000, 50);
  assert.is.not(await cellOf(page, "tally", "downtime").textContent(), "-");
  await until(() => page.locator('#events li[data-type="resumed"]').count(), "the resumed event listed", 15_000, 50);
  assert.ok(await page.evaluate(() => (globalThis as unknown as { marked?: boolean }).marked === true));
  assert.equal(errors, []);
  await page.context().close();
});

ui("the page's move control edits cluster.yaml like ferry migrate and the process moves", async () => {
  const { page, errors } = await open(`/ui/#secret=${SECRET}`);
  await nodeShown(page, "idle", "beta");
  const before = c.readConfig();
  await page.locator('tr[data-process="idle"] select').selectOption("alpha");
  await page.locator('tr[data-process="idle"] button[data-action="move"]').click();
  await nodeShown(page, "idle", "alpha");
  await c.waitRunningOn("idle", "alpha", 15_000);
  // The same comment-keeping edit: only idle's node changed, the harness's comment is still there.
  assert.is(c.readConfig(), before.replace("idle: { module: Idle, node: beta }", "idle: { module: Idle, node: alpha }"));
  assert.match(await page.locator("#action").textContent() ?? "", /places idle on alpha/);
  assert.equal(errors, []);
  await page.context().close();
});

ui("the page opened at localhost, for nodes cluster.yaml spells 127.0.0.1, reaches every node", async () => {
  const local = c.url("alpha").replace("://127.0.0.1:", "://localhost:");
  assert.is.not(local, c.url("alpha"), "the test needs nodes configured on 127.0.0.1");
  const { page, errors } = await open(`/ui/#secret=${SECRET}`, local);
  // Beta is asked cross-origin: its row is up, with its own count of processes, only if it answered.
  await until(async () => (await page.locator('tr[data-node="beta"] [data-field="state"]').textContent()) === "up", "beta shown up", 15_000, 50);
  const onBeta = (await c.ps()).filter((p) => p.node === "beta").length;
  await until(async () => (await page.locator('tr[data-node="beta"] [data-field="processes"]').textContent()) === String(onBeta), `beta shown with ${onBeta} processes`, 15_000, 50);
  assert.equal(errors, []);
});

ui("a wrong secret shows a clear message and the secret form", async () => {
  const { page } = await open("/ui/#secret=not-the-secret");
  await page.locator("#login-error").waitFor({ state: "visible", timeout: 15_000 });
  assert.match(await page.locator("#login-error").textContent() ?? "", /Wrong cluster secret/);
  assert.ok(await page.locator("#main").isHidden());
  assert.is(await page.evaluate("sessionStorage.getItem('ferry.secret')"), null);
  // The right one, typed in, connects.
  await page.locator("#secret").fill(SECRET);
  await page.locator("#login-form button").click();
  await nodeShown(page, "tally", (await c.ps()).find((p) => p.name === "tally" && p.state === "running")!.node);
  await page.context().close();
});

ui("the page's files go out without the secret, with content types and a strict CSP; the API still needs it", async () => {
  const html = await fetch(`${c.url("alpha")}/ui/`);
  assert.is(html.status, 200);
  assert.is(html.headers.get("content-type"), "text/html; charset=utf-8");
  const csp = html.headers.get("content-security-policy") ?? "";
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.ok(csp.includes(`connect-src 'self' ${c.url("alpha")} ${c.url("beta")}`), csp);
  assert.is((await fetch(`${c.url("alpha")}/ui/app.js`)).headers.get("content-type"), "text/javascript; charset=utf-8");
  assert.is((await fetch(`${c.url("alpha")}/ui/style.css`)).headers.get("content-type"), "text/css; charset=utf-8");
  assert.is((await fetch(`${c.url("alpha")}/ui/..%2fcluster.yaml`)).status, 404);
  assert.is((await fetch(`${c.url("alpha")}/ui/../cluster.yaml`)).status, 401); // normalised to /cluster.yaml: the API
  assert.is((await fetch(`${c.url("alpha")}/ui/nope.js`)).status, 404);
  assert.is((await fetch(`${c.url("alpha")}/v1/ps`, { method: "POST", body: "{}" })).status, 401);
});

ui("config.migrate refuses an unknown process or node with the edit's own error and leaves cluster.yaml alone", async () => {
  const before = c.readConfig();
  const failure = (body: unknown) => c.post("alpha", "config.migrate", body).then(() => undefined, (e: { code: string; message: string }) => e);
  const ghost = await failure({ process: "ghost", node: "beta" });
  assert.is(ghost?.code, "process_not_found");
  assert.match(ghost?.message ?? "", /No process named "ghost"/);
  assert.is((await failure({ process: "tally", node: "gamma" }))?.code, "not_found");
  assert.is(c.readConfig(), before);
});

ui.run();
