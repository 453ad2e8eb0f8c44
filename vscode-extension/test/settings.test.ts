import assert from "node:assert/strict";
import { test } from "node:test";
import { shouldNotify, statusText } from "../src/notifications";
import { DEFAULT_SETTINGS, needsRestart, readSettings, serverOptions } from "../src/settings";

const values = (table: Record<string, unknown>) => (key: string) => table[key];

test("default settings map to static analysis with pyproject.toml deciding the rules", () => {
  assert.deepEqual(serverOptions(DEFAULT_SETTINGS, true, "/venv/bin/python"), {
    debounce: 0.2,
    idleDelay: 1.5,
    verify: "off",
    python: "/venv/bin/python",
    sandbox: "auto",
    trusted: true,
    severity: {},
    diagnosticMode: "auto",
    showDocument: false,
  });
});

test("select, ignore, severity and verify travel to the server", () => {
  const settings = readSettings(
    values({ verify: "onSave", select: ["ts1", " "], ignore: ["TS130"], severity: { TS3: "warning" }, debounce: 0 }),
  );
  const options = serverOptions(settings, true, "/p");
  assert.equal(options.verify, "onSave");
  assert.deepEqual(options.select, ["ts1"]);
  assert.deepEqual(options.ignore, ["TS130"]);
  assert.deepEqual(options.severity, { TS3: "warning" });
  assert.equal(options.debounce, 0);
});

test("an untrusted workspace gets no verification and no interpreter to run code with", () => {
  const options = serverOptions(readSettings(values({ verify: "onIdle" })), false, "/venv/bin/python");
  assert.equal(options.trusted, false);
  assert.equal(options.verify, "off");
  assert.equal(options.python, "");
});

test("the extension always shows scripted code itself", () => {
  assert.equal(serverOptions(DEFAULT_SETTINGS, true, "").showDocument, false);
});

test("wrongly typed settings fall back to the defaults", () => {
  const settings = readSettings(
    values({ verify: "always", debounce: -1, select: "TS1", severity: ["x"], enable: "yes", sandbox: 3 }),
  );
  assert.equal(settings.verify, "off");
  assert.equal(settings.debounce, 0.2);
  assert.deepEqual(settings.select, []);
  assert.deepEqual(settings.severity, {});
  assert.equal(settings.enable, true);
  assert.equal(settings.sandbox, "auto");
});

test("a single interpreter string is read as a one-element command", () => {
  assert.deepEqual(readSettings(values({ interpreter: "/usr/bin/python3" })).interpreter, ["/usr/bin/python3"]);
});

test("interpreter, importStrategy, args and enable restart the server; the rest do not", () => {
  assert.equal(needsRestart((s) => s === "tscheck.interpreter"), true);
  assert.equal(needsRestart((s) => s === "tscheck.args"), true);
  assert.equal(needsRestart((s) => s === "tscheck.enable"), true);
  assert.equal(needsRestart((s) => s === "tscheck.verify"), false);
  assert.equal(needsRestart((s) => s === "tscheck.severity"), false);
});

test("showNotifications filters the server's messages by type", () => {
  assert.equal(shouldNotify("onError", 1), true);
  assert.equal(shouldNotify("onError", 2), false);
  assert.equal(shouldNotify("onWarning", 2), true);
  assert.equal(shouldNotify("always", 3), true);
  assert.equal(shouldNotify("always", 4), false);
  assert.equal(shouldNotify("off", 1), false);
});

test("the status bar spins while the server works", () => {
  assert.match(statusText("busy", "Verifying Net").text, /~spin/);
  assert.equal(statusText("busy", "Verifying Net").tooltip, "tscheck: Verifying Net");
  assert.doesNotMatch(statusText("running").text, /~spin/);
});
