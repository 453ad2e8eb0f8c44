// When the extension starts the server: pure logic, no `vscode` import (unit-tested with node --test).
//
// The extension activates on `onLanguage:python` and on `workspaceContains:**/pyproject.toml`
// (activation events only take globs). A pyproject.toml alone is not a tscheck project: with no
// Python file open, the server starts only if some workspace pyproject.toml has a `[tool.tscheck]`
// table (or a `[tool.tscheck.*]` subtable); otherwise it starts when the first Python file opens.

/** At most this many pyproject.toml files are read, and at most this many bytes of each. */
export const MAX_PYPROJECTS = 20;
export const MAX_PYPROJECT_BYTES = 256 * 1024;

/** Folders not searched for pyproject.toml (dependencies and environments, not the user's project). */
export const PYPROJECT_EXCLUDE = "**/{node_modules,.git,.venv,venv,.tox,.nox,site-packages,__pypackages__}/**";

/** Whether a pyproject.toml's text has a `[tool.tscheck]` table or one of its subtables. */
export function hasTscheckTable(text: string): boolean {
  // A TOML table header on its own line; quoted keys (`[tool."tscheck"]`) and spaces are allowed.
  return /^[ \t]*\[[ \t]*tool[ \t]*\.[ \t]*("tscheck"|'tscheck'|tscheck)[ \t]*[.\]]/m.test(text);
}

/**
 * Whether to start the server now: a Python document is open, or a pyproject.toml configures
 * tscheck. `pyprojects` is read lazily and only when no Python document is open.
 */
export async function shouldStartServer(
  openLanguageIds: readonly string[],
  pyprojects: () => Promise<readonly string[]>,
): Promise<boolean> {
  if (openLanguageIds.includes("python")) return true;
  const texts = await pyprojects();
  return texts.some(hasTscheckTable);
}
