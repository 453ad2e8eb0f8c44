import assert from "node:assert/strict";
import { test } from "node:test";
import {
  chooseInterpreter,
  findOnPath,
  readProbe,
  resolveVariables,
  serverCommand,
  UnsupportedStrategyError,
  verifierPython,
} from "../src/interpreter";

test("the tscheck.interpreter setting wins over the Python extension and PATH", () => {
  assert.deepEqual(
    chooseInterpreter({ setting: ["/venv/bin/python"], pythonExtension: ["/conda/bin/python"], onPath: "/usr/bin/python3" }),
    { command: ["/venv/bin/python"], source: "setting" },
  );
});

test("without the setting, the Python extension's active interpreter is used", () => {
  assert.deepEqual(
    chooseInterpreter({ setting: [], pythonExtension: ["/conda/bin/python"], onPath: "/usr/bin/python3" }),
    { command: ["/conda/bin/python"], source: "python-extension" },
  );
});

test("blank setting entries count as unset", () => {
  assert.equal(chooseInterpreter({ setting: ["  "], onPath: "/usr/bin/python3" })?.source, "path");
});

test("without the setting or the Python extension, python3 on PATH is used", () => {
  assert.deepEqual(chooseInterpreter({ setting: [], pythonExtension: undefined, onPath: "/usr/bin/python3" }), {
    command: ["/usr/bin/python3"],
    source: "path",
  });
});

test("no interpreter anywhere gives undefined (the extension then explains)", () => {
  assert.equal(chooseInterpreter({ setting: [] }), undefined);
});

test("findOnPath prefers the first name, then the first directory", () => {
  const present = new Set(["/b/python3", "/a/python", "/c/python3"]);
  assert.equal(findOnPath(["python3", "python"], "/a:/b:/c", (f) => present.has(f), ":"), "/b/python3");
  assert.equal(findOnPath(["python3", "python"], "/a", (f) => present.has(f), ":"), "/a/python");
  assert.equal(findOnPath(["python3"], undefined, () => true, ":"), undefined);
});

test("variables in the interpreter setting are resolved", () => {
  const context = { workspaceFolder: "/work/proj", userHome: "/home/u", env: { VENV: "/opt/venv" } };
  assert.equal(resolveVariables("${workspaceFolder}/.venv/bin/python", context), "/work/proj/.venv/bin/python");
  assert.equal(resolveVariables("${env:VENV}/bin/python", context), "/opt/venv/bin/python");
  assert.equal(resolveVariables("${userHome}/py", context), "/home/u/py");
  assert.equal(resolveVariables("~/py", context), "/home/u/py");
  assert.equal(resolveVariables("${env:MISSING}x", context), "x");
});

test("fromEnvironment runs python -m tscheck_server with the extra args", () => {
  assert.deepEqual(
    serverCommand({ command: ["/venv/bin/python"], source: "setting" }, "fromEnvironment", ["--log-file", "/tmp/l"]),
    { command: "/venv/bin/python", args: ["-m", "tscheck_server", "--log-file", "/tmp/l"] },
  );
});

test("a launcher command keeps its own arguments before -m", () => {
  assert.deepEqual(
    serverCommand({ command: ["conda", "run", "-n", "ml", "python"], source: "setting" }, "fromEnvironment", []),
    { command: "conda", args: ["run", "-n", "ml", "python", "-m", "tscheck_server"] },
  );
});

test("useBundled is refused with a message naming the alternative", () => {
  assert.throws(
    () => serverCommand({ command: ["python3"], source: "path" }, "useBundled", []),
    (error: unknown) => error instanceof UnsupportedStrategyError && /fromEnvironment/.test(error.message),
  );
});

test("the verifier gets the interpreter path only when it is a plain executable", () => {
  assert.equal(verifierPython({ command: ["/venv/bin/python"], source: "setting" }), "/venv/bin/python");
  assert.equal(verifierPython({ command: ["conda", "run", "python"], source: "setting" }), "");
});

test("the probe tells a missing Python from a missing tscheck", () => {
  assert.deepEqual(readProbe(null, "", "", "ENOENT"), { kind: "no-python", detail: "ENOENT" });
  assert.deepEqual(readProbe(3, "missing:No module named 'tscheck_server'\n", ""), {
    kind: "no-tscheck",
    detail: "No module named 'tscheck_server'",
  });
  assert.deepEqual(readProbe(0, "ok:0.1.0:3.11.7\n", ""), { kind: "ok", version: "0.1.0", python: "3.11.7" });
  assert.deepEqual(readProbe(1, "", "Traceback: boom\n"), { kind: "failed", detail: "Traceback: boom" });
});
