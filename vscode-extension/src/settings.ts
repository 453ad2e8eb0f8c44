// VS Code settings -> the server's initializationOptions: pure logic, no `vscode` import.
//
// The server's settings (README, "Language server"): debounce, verify, idleDelay, python, sandbox,
// trusted, select, ignore, severity, diagnosticMode, showDocument. An empty list in VS Code means
// "not set here", so pyproject.toml's [tool.tscheck] decides; the server reads `null`/absent that way.

export type VerifyMode = "off" | "onSave" | "onIdle";
export type NotificationLevel = "off" | "onError" | "onWarning" | "always";

/** The `tscheck.*` settings as VS Code holds them (after defaults). */
export interface ExtensionSettings {
  enable: boolean;
  interpreter: string[];
  importStrategy: "fromEnvironment" | "useBundled";
  verify: VerifyMode;
  idleDelay: number;
  debounce: number;
  select: string[];
  ignore: string[];
  severity: Record<string, string>;
  sandbox: "auto" | "bwrap" | "none";
  args: string[];
  showNotifications: NotificationLevel;
}

export const DEFAULT_SETTINGS: ExtensionSettings = {
  enable: true,
  interpreter: [],
  importStrategy: "fromEnvironment",
  verify: "off",
  idleDelay: 1.5,
  debounce: 0.2,
  select: [],
  ignore: [],
  severity: {},
  sandbox: "auto",
  args: [],
  showNotifications: "onError",
};

/** Reads the settings through `get` (VS Code's `WorkspaceConfiguration.get`), falling back to defaults
 * for missing or wrongly typed values. */
export function readSettings(get: (key: string) => unknown): ExtensionSettings {
  const out: ExtensionSettings = { ...DEFAULT_SETTINGS };
  const strings = (value: unknown): string[] | undefined =>
    Array.isArray(value) && value.every((v) => typeof v === "string") ? [...value] : undefined;
  const oneOf = <T extends string>(value: unknown, allowed: readonly T[]): T | undefined =>
    allowed.find((a) => a === value);
  const number = (value: unknown): number | undefined =>
    typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : undefined;

  const enable = get("enable");
  if (typeof enable === "boolean") out.enable = enable;
  const interpreter = get("interpreter");
  // A single string is accepted too (a common mistake in settings.json).
  out.interpreter = typeof interpreter === "string" ? [interpreter] : (strings(interpreter) ?? out.interpreter);
  out.importStrategy = oneOf(get("importStrategy"), ["fromEnvironment", "useBundled"] as const) ?? out.importStrategy;
  out.verify = oneOf(get("verify"), ["off", "onSave", "onIdle"] as const) ?? out.verify;
  out.idleDelay = number(get("idleDelay")) ?? out.idleDelay;
  out.debounce = number(get("debounce")) ?? out.debounce;
  out.select = strings(get("select")) ?? out.select;
  out.ignore = strings(get("ignore")) ?? out.ignore;
  const severity = get("severity");
  if (severity && typeof severity === "object" && !Array.isArray(severity)) {
    out.severity = Object.fromEntries(
      Object.entries(severity as Record<string, unknown>).filter(
        (entry): entry is [string, string] => typeof entry[1] === "string",
      ),
    );
  }
  out.sandbox = oneOf(get("sandbox"), ["auto", "bwrap", "none"] as const) ?? out.sandbox;
  out.args = strings(get("args")) ?? out.args;
  out.showNotifications =
    oneOf(get("showNotifications"), ["off", "onError", "onWarning", "always"] as const) ?? out.showNotifications;
  return out;
}

/** What the server receives as initializationOptions and in workspace/didChangeConfiguration. */
export interface ServerOptions {
  debounce: number;
  idleDelay: number;
  verify: VerifyMode;
  python: string;
  sandbox: string;
  trusted: boolean;
  severity: Record<string, string>;
  diagnosticMode: "auto";
  showDocument: false;
  select?: string[];
  ignore?: string[];
}

/**
 * The server's options. `trusted` is VS Code's workspace trust: untrusted, the server does static
 * analysis only (no verification, no Show TorchScript Code), whatever `verify` says.
 * `python` is the interpreter the verifier runs the user's code with (the one the server runs in).
 * `showDocument: false`: the extension shows scripted code itself, in a read-only virtual document.
 */
export function serverOptions(settings: ExtensionSettings, trusted: boolean, python: string): ServerOptions {
  const options: ServerOptions = {
    debounce: settings.debounce,
    idleDelay: settings.idleDelay,
    verify: trusted ? settings.verify : "off",
    python: trusted ? python : "",
    sandbox: settings.sandbox,
    trusted,
    severity: { ...settings.severity },
    diagnosticMode: "auto",
    showDocument: false,
  };
  const codes = (list: string[]) => list.map((code) => code.trim()).filter((code) => code !== "");
  if (codes(settings.select).length > 0) options.select = codes(settings.select);
  if (codes(settings.ignore).length > 0) options.ignore = codes(settings.ignore);
  return options;
}

/** Settings whose change needs a new server process (the others travel by didChangeConfiguration). */
export const RESTART_SETTINGS = ["enable", "interpreter", "importStrategy", "args"] as const;

export function needsRestart(affects: (section: string) => boolean): boolean {
  return RESTART_SETTINGS.some((key) => affects(`tscheck.${key}`));
}
