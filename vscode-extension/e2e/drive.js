// Drives code-server in headless Chromium for tests/e2e/test_vscode.py (playwright-core).
// Environment: PLAYWRIGHT_CORE (module path), CHROMIUM, URL, DIAGNOSTICS_FILE, ARTIFACTS (dir),
// MODEL_LINES (JSON: {"lambda": n, "floordiv": n}, 1-based). Prints one JSON object of what it saw;
// the Python test asserts on it. Exits 1 with {"error": ...} when a step times out.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { chromium } = require(process.env.PLAYWRIGHT_CORE);

const artifacts = process.env.ARTIFACTS;
const lines = JSON.parse(process.env.MODEL_LINES);
const seen = { steps: [] };

function diagnostics() {
  try {
    return JSON.parse(fs.readFileSync(process.env.DIAGNOSTICS_FILE, "utf8"));
  } catch {
    return [];
  }
}

async function until(what, predicate, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function problemRows(page) {
  return page.locator(".markers-panel .monaco-list-row").allInnerTexts();
}

async function goTo(page, line, column) {
  await page.locator(".monaco-editor .view-lines").first().click();
  await page.keyboard.press("Control+G");
  await page.keyboard.type(`${line}:${column}`);
  await page.keyboard.press("Enter");
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
    seen.steps.push("workbench");
    const row = page.locator(".explorer-folders-view .monaco-list-row", { hasText: "model.py" });
    await row.first().click({ timeout: 30_000 });
    await page.locator(".monaco-editor .view-lines").first().waitFor({ timeout: 30_000 });
    seen.steps.push("opened model.py");

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
    await page.locator(".squiggly-error").first().waitFor({ timeout: 10_000 });
    seen.squiggles = await page.locator(".squiggly-error").count();
    seen.screenshot = path.join(artifacts, "vscode-problems.png");
    await page.screenshot({ path: seen.screenshot });
    seen.steps.push("problems");

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
    seen.steps.push("quick fix");

    await page.locator(".monaco-editor .view-lines").first().click();
    await page.keyboard.press("Control+S");
    seen.verified = await until(
      "a verified diagnostic after saving",
      () => diagnostics().find((d) => d.message.includes("confirmed by torch.jit.script")),
      120_000,
    );
    seen.problemsAfterSave = await problemRows(page);
    seen.savedText = fs.readFileSync(process.env.MODEL_FILE, "utf8");
    await page.screenshot({ path: path.join(artifacts, "vscode-verified.png") });
    seen.steps.push("verified");
  } catch (error) {
    seen.error = String(error && error.stack ? error.stack : error);
    await page.screenshot({ path: path.join(artifacts, "vscode-failure.png") }).catch(() => undefined);
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(seen));
  process.exit(seen.error ? 1 : 0);
})();
