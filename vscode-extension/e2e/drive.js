// Drives code-server in headless Chromium for tests/e2e/test_vscode.py (playwright-core).
// Environment: PLAYWRIGHT_CORE (module path), CHROMIUM, URL, DIAGNOSTICS_FILE, MODEL_FILE,
// ARTIFACTS (dir), MODEL_LINES (JSON: {"lambda": n, "floordiv": n, "head": n}, 1-based), SCENARIO:
//   main:       Problems panel, Ctrl+. quick fix, verification on save, the code lens and
//               "tscheck: Show TorchScript Code" (a trusted workspace);
//   restricted: the workspace is not trusted (the trust prompt is declined): diagnostics, no code
//               lens, no verification on save;
//   missing:    tscheck.interpreter has no tscheck: the error notification and its buttons.
// Prints one JSON object of what it saw; the Python test asserts on it. Exits 1 with
// {"error": ...} when a step times out.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { chromium } = require(process.env.PLAYWRIGHT_CORE);

const artifacts = process.env.ARTIFACTS;
const lines = JSON.parse(process.env.MODEL_LINES || "{}");
const scenario = process.env.SCENARIO || "main";
const seen = { scenario, steps: [] };
const started = Date.now();

function readJson(file, fallback) {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    return fallback;
  }
}

const diagnostics = () => readJson(process.env.DIAGNOSTICS_FILE, []);
const visibleEditors = () => readJson(`${process.env.DIAGNOSTICS_FILE}.editors.json`, []);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what, predicate, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

function step(name) {
  seen.steps.push(`${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

async function problemRows(page) {
  return page.locator(".markers-panel .monaco-list-row").allInnerTexts();
}

async function codeLenses(page) {
  return page.locator(".monaco-editor .codelens-decoration").allInnerTexts();
}

async function goTo(page, line, column) {
  await page.locator(".monaco-editor .view-lines").first().click();
  await page.keyboard.press("Control+G");
  await page.keyboard.type(`${line}:${column}`);
  await page.keyboard.press("Enter");
}

async function openModel(page) {
  const row = page.locator(".explorer-folders-view .monaco-list-row", { hasText: "model.py" });
  await row.first().click({ timeout: 30_000 });
  await page.locator(".monaco-editor .view-lines").first().waitFor({ timeout: 30_000 });
  step("opened model.py");
}

/** Waits for TS120 in the diagnostics file, then for the Problems panel to list it. */
async function waitForProblems(page) {
  seen.diagnostics = await until(
    "tscheck's diagnostics",
    () => {
      const found = diagnostics();
      return found.some((d) => d.code === "TS120") ? found : undefined;
    },
    60_000,
  );
  await page.keyboard.press("Control+Shift+M");
  await page.locator(".markers-panel .monaco-list-row").first().waitFor({ timeout: 20_000 });
  seen.problems = await until(
    "the Problems panel to list TS120",
    async () => {
      const rows = await problemRows(page);
      return rows.some((r) => r.includes("TS120")) ? rows : undefined;
    },
    20_000,
  );
  step("problems");
}

async function runCommand(page, title) {
  await page.locator(".monaco-editor .view-lines").first().click();
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget input.input");
  await input.waitFor({ timeout: 10_000 });
  await input.fill(`>${title}`);
  const row = page.locator(".quick-input-widget .monaco-list-row", { hasText: title });
  await row.first().waitFor({ timeout: 10_000 });
  await page.keyboard.press("Enter");
}

/** Chooses `root` in the quick pick of roots; returns the choices it offered. */
async function pickRoot(page, root) {
  const rows = page.locator(".quick-input-widget .monaco-list-row");
  await rows.first().waitFor({ timeout: 20_000 });
  const choices = await rows.allInnerTexts();
  await page.locator(".quick-input-widget input.input").fill(root);
  await page.keyboard.press("Enter");
  return choices;
}

async function main(page) {
  await openModel(page);
  await waitForProblems(page);
  await page.locator(".squiggly-error").first().waitFor({ timeout: 10_000 });
  seen.squiggles = await page.locator(".squiggly-error").count();
  seen.codeLenses = await until(
    "the Show TorchScript code lens",
    async () => {
      const found = await codeLenses(page);
      return found.some((t) => t.includes("Show TorchScript code")) ? found : undefined;
    },
    20_000,
  );
  seen.screenshot = path.join(artifacts, "vscode-problems.png");
  await page.screenshot({ path: seen.screenshot });

  // Hover on `forward` (the def line above the lambda): whether TorchScript compiles it, and why.
  await goTo(page, lines.lambda - 1, 10);
  await page.keyboard.press("Control+K");
  await page.keyboard.press("Control+I");
  seen.hover = await until(
    "the hover on forward",
    async () => {
      const text = (await page.locator(".monaco-hover").allInnerTexts()).join("\n");
      return text.includes("compiled by TorchScript") ? text : undefined;
    },
    20_000,
  );
  await page.screenshot({ path: path.join(artifacts, "vscode-hover.png") });
  await page.keyboard.press("Escape");
  step("hover");

  await goTo(page, lines.floordiv, 9);
  await page.keyboard.press("Control+.");
  const actions = page.locator(".action-widget .monaco-list-row");
  await actions.first().waitFor({ timeout: 20_000 });
  seen.quickFixes = await actions.allInnerTexts();
  await page.screenshot({ path: path.join(artifacts, "vscode-quickfix.png") });
  // The widget's pointer block swallows clicks: choose with the keyboard, as a user would.
  for (let i = 0; i < seen.quickFixes.length; i++) {
    const focused = await page.locator(".action-widget .monaco-list-row.focused").allInnerTexts();
    if (focused.some((text) => text.includes("TS120"))) break;
    await page.keyboard.press("ArrowDown");
  }
  seen.chosenFix = (await page.locator(".action-widget .monaco-list-row.focused").allInnerTexts()).join("");
  await page.keyboard.press("Enter");
  seen.fixedDiagnostics = await until(
    "TS120 to go",
    () => {
      const found = diagnostics();
      return found.length > 0 && !found.some((d) => d.code === "TS120") ? found : undefined;
    },
    30_000,
  );
  seen.problemsAfterFix = await until(
    "the Problems panel to drop TS120",
    async () => {
      const rows = await problemRows(page);
      return rows.length > 0 && !rows.some((r) => r.includes("TS120")) ? rows : undefined;
    },
    20_000,
  );
  step("quick fix");

  await page.locator(".monaco-editor .view-lines").first().click();
  const saved = Date.now();
  await page.keyboard.press("Control+S");
  seen.verified = await until(
    "a verified diagnostic after saving",
    () => diagnostics().find((d) => d.message.includes("confirmed by torch.jit.script")),
    120_000,
  );
  seen.verifySeconds = (Date.now() - saved) / 1000;
  seen.problemsAfterSave = await problemRows(page);
  seen.savedText = fs.readFileSync(process.env.MODEL_FILE, "utf8");
  await page.screenshot({ path: path.join(artifacts, "vscode-verified.png") });
  step("verified");

  // Net (with its lambda) does not script: the command says so. Head does: its code opens.
  await goTo(page, lines.lambda, 1);
  await runCommand(page, "tscheck: Show TorchScript Code");
  await pickRoot(page, "Net");
  const notScripting = page.locator(".notifications-toasts .notification-toast", { hasText: "does not script" });
  await notScripting.first().waitFor({ timeout: 60_000 });
  seen.notScripting = await notScripting.first().locator(".notification-list-item-message").innerText();
  await page.screenshot({ path: path.join(artifacts, "vscode-does-not-script.png") });
  step("Net does not script");
  await goTo(page, lines.head + 1, 9);
  await runCommand(page, "tscheck: Show TorchScript Code");
  seen.rootChoices = await pickRoot(page, "Head");
  seen.shownUri = await until(
    "a tscheck-torchscript: editor",
    () => visibleEditors().find((uri) => uri.startsWith("tscheck-torchscript:")),
    60_000,
  );
  const shown = page.locator(".editor-group-container.active .monaco-editor .view-lines");
  seen.shownText = await until(
    "the scripted code in the editor",
    async () => {
      const text = (await shown.first().innerText()).replace(/\u00a0/g, " ");
      return text.includes("def forward(self") ? text : undefined;
    },
    20_000,
  );
  seen.shownTab = await page.locator(".editor-group-container.active .tab.active").first().innerText();
  // Typing into it is refused with VS Code's read-only message and changes nothing.
  await shown.first().click();
  await page.keyboard.type("x");
  seen.readOnlyMessage = await until(
    "the read-only message",
    async () => (await page.locator(".monaco-editor-overlaymessage").allInnerTexts()).join(" ").trim(),
    10_000,
  );
  seen.shownTextAfterTyping = (await shown.first().innerText()).replace(/\u00a0/g, " ");
  await page.screenshot({ path: path.join(artifacts, "vscode-torchscript-code.png") });
  step("show TorchScript code");
}

async function restricted(page) {
  // The trust prompt (modal): decline it, as a user opening someone else's project might.
  const decline = page.locator(".monaco-dialog-box .monaco-button", { hasText: "No, I don't trust" });
  await decline.first().click({ timeout: 30_000 });
  seen.restrictedIndicator = await until(
    "the Restricted Mode indicator",
    async () => {
      const items = await page.locator(".statusbar-item").allInnerTexts();
      return items.find((t) => t.includes("Restricted Mode"));
    },
    20_000,
  );
  step("declined trust");
  await openModel(page);
  await waitForProblems(page);
  await page.locator(".squiggly-error").first().waitFor({ timeout: 10_000 });
  // The trusted run shows the lens with the diagnostics; give it ample time here.
  await sleep(3000);
  seen.codeLenses = await codeLenses(page);
  await page.screenshot({ path: path.join(artifacts, "vscode-restricted.png") });
  step("no code lens");

  await page.locator(".monaco-editor .view-lines").first().click();
  await page.keyboard.press("Control+End");
  await page.keyboard.type("\n# edited in Restricted Mode");
  await page.keyboard.press("Control+S");
  await until(
    "the save",
    () => fs.readFileSync(process.env.MODEL_FILE, "utf8").includes("# edited in Restricted Mode"),
    10_000,
  );
  const waitMs = Number(process.env.NO_VERIFY_WAIT_MS || "6000");
  await sleep(waitMs);
  seen.diagnosticsAfterSave = diagnostics();
  seen.problemsAfterSave = await problemRows(page);
  seen.statusBar = await page.locator(".statusbar-item").allInnerTexts();
  await page.screenshot({ path: path.join(artifacts, "vscode-restricted-saved.png") });
  step(`saved, waited ${waitMs} ms`);
}

async function missing(page) {
  await openModel(page);
  const toast = page.locator(".notifications-toasts .notification-toast", { hasText: "tscheck is not installed" });
  await toast.first().waitFor({ timeout: 60_000 });
  seen.notification = await toast.first().locator(".notification-list-item-message").innerText();
  seen.buttons = await toast.first().locator(".monaco-button").allInnerTexts();
  await page.screenshot({ path: path.join(artifacts, "vscode-missing-tscheck.png") });
  step("notification");
  await toast.first().locator(".monaco-button", { hasText: "Open Setting" }).click();
  const search = page.locator(".settings-editor .suggest-input-container .view-lines");
  seen.settingsSearch = await until(
    "the settings editor on tscheck.interpreter",
    async () => {
      const text = (await search.allInnerTexts()).join(" ");
      return text.includes("tscheck.interpreter") ? text : undefined;
    },
    20_000,
  );
  await page.screenshot({ path: path.join(artifacts, "vscode-missing-tscheck-setting.png") });
  step("open setting");
}

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  try {
    await page.goto(process.env.URL);
    await page.locator(".monaco-workbench").waitFor({ timeout: 60_000 });
    step("workbench");
    await { main, restricted, missing }[scenario](page);
  } catch (error) {
    seen.error = String(error && error.stack ? error.stack : error);
    await page
      .screenshot({ path: path.join(artifacts, `vscode-failure-${scenario}.png`) })
      .catch(() => undefined);
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(seen));
  process.exit(seen.error ? 1 : 0);
})();
