// Which Python runs the tscheck server: pure logic, no `vscode` import (unit-tested with node --test).
//
// Order, as in Microsoft's Python tools template: the `tscheck.interpreter` setting, else the Python
// extension's active interpreter for the workspace, else `python3` (or `python`) on PATH. The same
// interpreter runs the verifier, so torch and the project's packages come from the user's environment.

import * as path from "node:path";

export type InterpreterSource = "setting" | "python-extension" | "path";

export interface Interpreter {
  /** The command: one executable, or a launcher with arguments (`["conda", "run", "-n", "x", "python"]`). */
  command: string[];
  source: InterpreterSource;
}

export interface InterpreterCandidates {
  /** `tscheck.interpreter`, variables already resolved. */
  setting: readonly string[];
  /** What the Python extension reports for the workspace, if it is installed and knows one. */
  pythonExtension?: readonly string[];
  /** `python3` (or `python`) found on PATH. */
  onPath?: string;
}

export function chooseInterpreter(candidates: InterpreterCandidates): Interpreter | undefined {
  const setting = candidates.setting.filter((part) => part.trim() !== "");
  if (setting.length > 0) {
    return { command: [...setting], source: "setting" };
  }
  const fromExtension = (candidates.pythonExtension ?? []).filter((part) => part.trim() !== "");
  if (fromExtension.length > 0) {
    return { command: [...fromExtension], source: "python-extension" };
  }
  if (candidates.onPath) {
    return { command: [candidates.onPath], source: "path" };
  }
  return undefined;
}

export interface VariableContext {
  workspaceFolder?: string;
  userHome: string;
  env: Readonly<Record<string, string | undefined>>;
}

/** Resolves `${workspaceFolder}`, `${userHome}`, `${env:NAME}` and a leading `~/` in a setting value. */
export function resolveVariables(value: string, context: VariableContext): string {
  let out = value.replace(/\$\{(workspaceFolder|userHome|env:([^}]+))\}/g, (whole, name: string, env?: string) => {
    if (env !== undefined) {
      return context.env[env] ?? "";
    }
    if (name === "userHome") {
      return context.userHome;
    }
    return context.workspaceFolder ?? whole;
  });
  if (out === "~" || out.startsWith("~/")) {
    out = context.userHome + out.slice(1);
  }
  return out;
}

/** The first of `names` found as an executable file in the directories of `pathVariable`. */
export function findOnPath(
  names: readonly string[],
  pathVariable: string | undefined,
  isExecutable: (file: string) => boolean,
  delimiter: string = path.delimiter,
): string | undefined {
  const dirs = (pathVariable ?? "").split(delimiter).filter((dir) => dir !== "");
  for (const name of names) {
    for (const dir of dirs) {
      const candidate = path.join(dir, name);
      if (isExecutable(candidate)) {
        return candidate;
      }
    }
  }
  return undefined;
}

export type ImportStrategy = "fromEnvironment" | "useBundled";

export interface ServerCommand {
  command: string;
  args: string[];
}

export class UnsupportedStrategyError extends Error {}

/**
 * How to start the server with `interpreter`. `fromEnvironment` runs the tscheck installed in that
 * interpreter; `useBundled` is not shipped yet (see the README) and is refused with a clear message.
 */
export function serverCommand(
  interpreter: Interpreter,
  strategy: ImportStrategy,
  extraArgs: readonly string[],
): ServerCommand {
  if (strategy !== "fromEnvironment") {
    throw new UnsupportedStrategyError(
      `tscheck.importStrategy "${strategy}" is not available in this version of the extension: ` +
        `install tscheck in your interpreter (pip install tscheck) and use "fromEnvironment".`,
    );
  }
  const [command, ...launcherArgs] = interpreter.command;
  return { command, args: [...launcherArgs, "-m", "tscheck_server", ...extraArgs] };
}

/**
 * The interpreter path the server's verifier should use (its `python` setting): only a plain
 * executable qualifies; a launcher command (`conda run ...`) leaves the choice to the server,
 * which then verifies with the interpreter it runs in (the same environment).
 */
export function verifierPython(interpreter: Interpreter): string {
  return interpreter.command.length === 1 ? interpreter.command[0] : "";
}

/** Python code the extension runs first to tell "no Python" from "no tscheck" from "too old". */
export const PROBE_CODE =
  "import sys\n" +
  "try:\n" +
  "    import tscheck_server\n" +
  "except ImportError as exc:\n" +
  "    print('missing:' + str(exc)); sys.exit(3)\n" +
  "print('ok:' + getattr(tscheck_server, '__version__', '?') + ':' + sys.version.split()[0])\n";

export type ProbeResult =
  | { kind: "ok"; version: string; python: string }
  | { kind: "no-python"; detail: string }
  | { kind: "no-tscheck"; detail: string }
  | { kind: "failed"; detail: string };

/** Reads the outcome of running PROBE_CODE (`error` is the spawn error code, e.g. ENOENT). */
export function readProbe(exitCode: number | null, stdout: string, stderr: string, error?: string): ProbeResult {
  if (error === "ENOENT" || error === "EACCES") {
    return { kind: "no-python", detail: error };
  }
  const line = stdout.trim().split("\n").pop() ?? "";
  if (exitCode === 0 && line.startsWith("ok:")) {
    const [, version, python] = line.split(":");
    return { kind: "ok", version, python };
  }
  if (exitCode === 3 && line.startsWith("missing:")) {
    return { kind: "no-tscheck", detail: line.slice("missing:".length) };
  }
  return { kind: "failed", detail: (error ?? stderr.trim()) || `exit code ${exitCode}` };
}
