import assert from "node:assert/strict";
import { test } from "node:test";
import { hasTscheckTable, shouldStartServer } from "../src/activation";

test("a [tool.tscheck] table or subtable counts, other tables do not", () => {
  assert.ok(hasTscheckTable("[tool.tscheck]\n"));
  assert.ok(hasTscheckTable('[project]\nname = "x"\n\n[tool.tscheck]\nselect = ["TS1"]\n'));
  assert.ok(hasTscheckTable("[tool.tscheck.severity]\nTS3 = 'warning'\n"));
  assert.ok(hasTscheckTable("  [ tool . tscheck ]  # indented, spaced\n"));
  assert.ok(hasTscheckTable('[tool."tscheck"]\n'));
  assert.ok(hasTscheckTable("[tool.ruff]\r\n[tool.tscheck]\r\n"));
  assert.ok(!hasTscheckTable(""));
  assert.ok(!hasTscheckTable("[tool.ruff]\nline-length = 100\n"));
  assert.ok(!hasTscheckTable("[tool.tscheckx]\n"));
  assert.ok(!hasTscheckTable("[tool.other.tscheck]\n"));
  assert.ok(!hasTscheckTable("# [tool.tscheck]\n"));
  assert.ok(!hasTscheckTable('description = "see [tool.tscheck]"\n'));
});

test("a Python document starts the server without reading pyproject.toml", async () => {
  let read = false;
  const pyprojects = async () => {
    read = true;
    return [];
  };
  assert.equal(await shouldStartServer(["plaintext", "python"], pyprojects), true);
  assert.equal(read, false);
});

test("without a Python document, only a pyproject.toml with [tool.tscheck] starts it", async () => {
  assert.equal(await shouldStartServer([], async () => []), false);
  assert.equal(await shouldStartServer(["toml"], async () => ["[tool.ruff]\n"]), false);
  assert.equal(await shouldStartServer(["toml"], async () => ["[tool.ruff]\n", "[tool.tscheck]\n"]), true);
});
