// The tscheck VS Code extension: starts the tscheck language server (a Python process) with the
// project's interpreter and shows what it reports. Diagnostics, quick fixes, hovers and code lenses
// come from the server; this file finds Python, passes settings, and adds the status bar item,
// the commands and the read-only "Show TorchScript Code" document.

import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as vscode from "vscode";
import {
  ExecuteCommandRequest,
  LanguageClient,
  type LanguageClientOptions,
  MessageType,
  type ServerOptions as LanguageServerOptions,
  ShowMessageNotification,
  State,
  WorkDoneProgress,
  WorkDoneProgressCreateRequest,
  type WorkDoneProgressBegin,
  type WorkDoneProgressReport,
  type WorkDoneProgressEnd,
} from "vscode-languageclient/node";
import {
  chooseInterpreter,
  findOnPath,
  type Interpreter,
  PROBE_CODE,
  type ProbeResult,
  readProbe,
  resolveVariables,
  serverCommand,
  UnsupportedStrategyError,
  verifierPython,
} from "./interpreter";
import { MAX_PYPROJECT_BYTES, MAX_PYPROJECTS, PYPROJECT_EXCLUDE, shouldStartServer } from "./activation";
import { shouldNotify, type ServerState, statusText } from "./notifications";
import { type ExtensionSettings, needsRestart, readSettings, serverOptions } from "./settings";

const SHOW_COMMAND = "tscheck.showTorchScript"; // the server's command: [uri, root, "code" | "graph"]
const VERIFY_COMMAND = "tscheck.verifyFile"; // the server's command: [uri]
const SCHEME = "tscheck-torchscript";

interface ShowAnswer {
  root?: string;
  what?: string;
  text?: string;
  verdict?: string;
  message?: string;
  error?: string;
}

/** The parts of the Python extension's API (ms-python.python) used here. */
interface PythonExtensionApi {
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { path: string };
    resolveEnvironment(path: string): Promise<{ executable: { uri?: vscode.Uri } } | undefined>;
    onDidChangeActiveEnvironmentPath: vscode.Event<unknown>;
  };
}

class ShownCode implements vscode.TextDocumentContentProvider {
  private readonly texts = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  set(uri: vscode.Uri, text: string): void {
    this.texts.set(uri.toString(), text);
    this.changed.fire(uri);
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.toString()) ?? "# tscheck: nothing to show (run Show TorchScript Code again)\n";
  }
}

class TscheckExtension implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private readonly output = vscode.window.createOutputChannel("tscheck", { log: true });
  private readonly status = vscode.window.createStatusBarItem("tscheck.status", vscode.StatusBarAlignment.Right, 100);
  private readonly shown = new ShownCode();
  private readonly disposables: vscode.Disposable[] = [];
  private clientDisposables: vscode.Disposable[] = [];
  private settings: ExtensionSettings = readSettings(() => undefined);
  private interpreter: Interpreter | undefined;
  private restarting: Promise<void> = Promise.resolve();
  private readonly busy = new Map<string, string>(); // progress token -> title
  /** False while waiting for a Python file (activated by a pyproject.toml without [tool.tscheck]). */
  private started = false;

  constructor() {
    this.status.name = "tscheck";
    this.status.command = "tscheck.showOutput";
    this.disposables.push(
      this.output,
      this.status,
      vscode.workspace.registerTextDocumentContentProvider(SCHEME, this.shown),
      vscode.commands.registerCommand("tscheck.restart", () => this.restart("restart command")),
      vscode.commands.registerCommand("tscheck.showOutput", () => this.output.show()),
      vscode.commands.registerCommand("tscheck.verifyCurrentFile", () => this.verifyCurrentFile()),
      vscode.commands.registerCommand("tscheck.showTorchScriptCode", () => this.showTorchScriptCode()),
      vscode.workspace.onDidChangeConfiguration((event) => this.configurationChanged(event)),
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.sendSettings()),
    );
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }

  async watchPythonExtension(): Promise<void> {
    const python = vscode.extensions.getExtension<PythonExtensionApi>("ms-python.python");
    if (!python) return;
    try {
      const api = python.isActive ? python.exports : await python.activate();
      const environments = api?.environments;
      if (environments) {
        this.disposables.push(
          environments.onDidChangeActiveEnvironmentPath(() => {
            if (this.settings.interpreter.length === 0) {
              this.restart("the Python extension's interpreter changed");
            }
          }),
        );
      }
    } catch (error) {
      this.output.warn(`cannot use the Python extension's API: ${String(error)}`);
    }
  }

  private setState(state: ServerState, busyTitle?: string): void {
    const { text, tooltip } = statusText(state, busyTitle);
    this.status.text = text;
    this.status.tooltip = this.interpreter
      ? `${tooltip}\nPython: ${this.interpreter.command.join(" ")} (${this.interpreter.source})`
      : tooltip;
    this.status.show();
  }

  private folder(): vscode.WorkspaceFolder | undefined {
    const active = vscode.window.activeTextEditor?.document.uri;
    return (active && vscode.workspace.getWorkspaceFolder(active)) ?? vscode.workspace.workspaceFolders?.[0];
  }

  private readConfiguration(): ExtensionSettings {
    const config = vscode.workspace.getConfiguration("tscheck", this.folder()?.uri);
    return readSettings((key) => config.get(key));
  }

  private async findInterpreter(settings: ExtensionSettings): Promise<Interpreter | undefined> {
    const context = { workspaceFolder: this.folder()?.uri.fsPath, userHome: os.homedir(), env: process.env };
    const setting = settings.interpreter.map((part) => resolveVariables(part, context));
    let fromExtension: string[] | undefined;
    if (setting.length === 0) {
      fromExtension = await this.pythonExtensionInterpreter();
    }
    const onPath = findOnPath(["python3", "python"], process.env.PATH, (file) => {
      try {
        fs.accessSync(file, fs.constants.X_OK);
        return fs.statSync(file).isFile();
      } catch {
        return false;
      }
    });
    return chooseInterpreter({ setting, pythonExtension: fromExtension, onPath });
  }

  private async pythonExtensionInterpreter(): Promise<string[] | undefined> {
    const python = vscode.extensions.getExtension<PythonExtensionApi>("ms-python.python");
    if (!python) return undefined;
    try {
      const api = python.isActive ? python.exports : await python.activate();
      const environments = api?.environments;
      if (!environments) return undefined;
      const active = environments.getActiveEnvironmentPath(this.folder()?.uri);
      const resolved = await environments.resolveEnvironment(active.path);
      const executable = resolved?.executable.uri?.fsPath;
      return executable ? [executable] : undefined;
    } catch (error) {
      this.output.warn(`the Python extension gave no interpreter: ${String(error)}`);
      return undefined;
    }
  }

  private probe(interpreter: Interpreter): Promise<ProbeResult> {
    const [command, ...args] = interpreter.command;
    return new Promise((resolve) => {
      execFile(command, [...args, "-c", PROBE_CODE], { timeout: 60_000 }, (error, stdout, stderr) => {
        const code = error && typeof error.code === "string" ? error.code : undefined;
        const exitCode = error ? (typeof error.code === "number" ? error.code : null) : 0;
        resolve(readProbe(exitCode, String(stdout), String(stderr), code));
      });
    });
  }

  private async explain(message: string): Promise<void> {
    this.output.error(message);
    this.setState("error");
    const openSetting = "Open Setting";
    const showOutput = "Show Output";
    const picked = await vscode.window.showErrorMessage(message, openSetting, showOutput);
    if (picked === openSetting) {
      await vscode.commands.executeCommand("workbench.action.openSettings", "tscheck.interpreter");
    } else if (picked === showOutput) {
      this.output.show();
    }
  }

  /** Starts the server the first time; later calls do nothing (see `restart`). */
  start(reason: string): Promise<void> {
    if (this.started) return this.restarting;
    return this.restart(reason);
  }

  restart(reason: string): Promise<void> {
    this.started = true;
    this.restarting = this.restarting.then(() => this.doRestart(reason)).catch((error) => {
      this.output.error(`restart failed: ${String(error)}`);
      this.setState("error");
    });
    return this.restarting;
  }

  private async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    for (const d of this.clientDisposables) d.dispose();
    this.clientDisposables = [];
    this.busy.clear();
    if (client) {
      try {
        await client.stop(5000);
      } catch (error) {
        this.output.warn(`stopping the server: ${String(error)}`);
      }
      await client.dispose().catch(() => undefined);
    }
  }

  private async doRestart(reason: string): Promise<void> {
    this.output.info(`(re)starting the server: ${reason}`);
    await this.stop();
    this.settings = this.readConfiguration();
    if (!this.settings.enable) {
      this.setState("disabled");
      return;
    }
    this.setState("starting");
    this.interpreter = await this.findInterpreter(this.settings);
    if (!this.interpreter) {
      await this.explain(
        "tscheck: no Python interpreter found. Set tscheck.interpreter, select one with the Python extension, " +
          "or put python3 on PATH.",
      );
      return;
    }
    let command;
    try {
      command = serverCommand(this.interpreter, this.settings.importStrategy, this.settings.args);
    } catch (error) {
      if (error instanceof UnsupportedStrategyError) {
        await this.explain(error.message);
        return;
      }
      throw error;
    }
    const shown = this.interpreter.command.join(" ");
    const probe = await this.probe(this.interpreter);
    if (probe.kind === "no-python") {
      await this.explain(`tscheck: cannot run the Python interpreter ${shown} (${probe.detail}).`);
      return;
    }
    if (probe.kind === "no-tscheck") {
      await this.explain(
        `tscheck is not installed in ${shown} (${probe.detail}). Install it there (pip install tscheck) ` +
          "or choose another interpreter.",
      );
      return;
    }
    if (probe.kind === "failed") {
      await this.explain(`tscheck: checking ${shown} failed: ${probe.detail}`);
      return;
    }
    this.output.info(`Python ${probe.python} at ${shown} (${this.interpreter.source}), tscheck ${probe.version}`);

    const server: LanguageServerOptions = {
      command: command.command,
      args: command.args,
      options: { cwd: this.folder()?.uri.fsPath, env: { ...process.env, PYTHONUNBUFFERED: "1" } },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: "file", language: "python" }],
      outputChannel: this.output,
      traceOutputChannel: this.output,
      revealOutputChannelOn: 4, // RevealOutputChannelOn.Never
      initializationOptions: this.currentServerOptions(),
      middleware: {
        executeCommand: async (name, args, next) => {
          const result: unknown = await next(name, args);
          if (name === SHOW_COMMAND) await this.showAnswer(result as ShowAnswer | undefined);
          return result;
        },
      },
    };
    const client = new LanguageClient("tscheck", "tscheck", server, clientOptions);
    this.client = client;
    this.clientDisposables.push(
      client.onDidChangeState((event) => {
        if (event.newState === State.Running) this.setState("running");
        else if (event.newState === State.Stopped && this.client === client) this.setState("stopped");
      }),
    );
    try {
      await client.start();
    } catch (error) {
      await this.explain(`tscheck: the server did not start: ${String(error)}`);
      return;
    }
    this.installHandlers(client);
    this.setState("running");
  }

  /** Progress goes to the status bar (a spinner while verifying); messages follow showNotifications. */
  private installHandlers(client: LanguageClient): void {
    this.clientDisposables.push(
      client.onRequest(WorkDoneProgressCreateRequest.type, ({ token }) => {
        const key = String(token);
        const subscription = client.onProgress(
          WorkDoneProgress.type,
          token,
          (value: WorkDoneProgressBegin | WorkDoneProgressReport | WorkDoneProgressEnd) => {
            if (value.kind === "begin") {
              this.busy.set(key, value.title);
            } else if (value.kind === "report") {
              const title = this.busy.get(key) ?? "working";
              this.busy.set(key, value.message ? `${title.split(" (")[0]} (${value.message})` : title);
            } else {
              this.busy.delete(key);
              subscription.dispose();
              if (value.message) this.output.info(`done: ${value.message}`);
            }
            const titles = [...this.busy.values()];
            if (this.client === client) {
              this.setState(titles.length > 0 ? "busy" : "running", titles.join("; "));
            }
          },
        );
        this.clientDisposables.push(subscription);
      }),
      client.onNotification(ShowMessageNotification.type, ({ type, message }) => {
        const log = type === MessageType.Error ? "error" : type === MessageType.Warning ? "warn" : "info";
        this.output[log](message);
        if (!shouldNotify(this.settings.showNotifications, type)) return;
        if (type === MessageType.Error) void vscode.window.showErrorMessage(message);
        else if (type === MessageType.Warning) void vscode.window.showWarningMessage(message);
        else void vscode.window.showInformationMessage(message);
      }),
    );
  }

  private currentServerOptions() {
    const python = this.interpreter ? verifierPython(this.interpreter) : "";
    return serverOptions(this.settings, vscode.workspace.isTrusted, python);
  }

  private configurationChanged(event: vscode.ConfigurationChangeEvent): void {
    if (!event.affectsConfiguration("tscheck") || !this.started) return;
    if (needsRestart((section) => event.affectsConfiguration(section)) || !this.client) {
      void this.restart("settings changed");
      return;
    }
    this.sendSettings();
  }

  private sendSettings(): void {
    this.settings = this.readConfiguration();
    const client = this.client;
    if (!client?.isRunning()) return;
    void client.sendNotification("workspace/didChangeConfiguration", {
      settings: { tscheck: this.currentServerOptions() },
    });
  }

  private async verifyCurrentFile(): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    if (!editor || editor.document.languageId !== "python") {
      void vscode.window.showInformationMessage("tscheck: open a Python file to verify.");
      return;
    }
    if (!this.client?.isRunning()) {
      void vscode.window.showWarningMessage("tscheck: the server is not running (see tscheck: Show Output).");
      return;
    }
    const answer: { error?: string } | undefined = await this.client.sendRequest(ExecuteCommandRequest.type, {
      command: VERIFY_COMMAND,
      arguments: [editor.document.uri.toString()],
    });
    if (answer?.error) void vscode.window.showWarningMessage(`tscheck: ${answer.error}`);
  }

  /** The palette command: the roots come from the server's code lenses on the active file. */
  private async showTorchScriptCode(): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    if (!editor || editor.document.languageId !== "python") {
      void vscode.window.showInformationMessage("tscheck: open a Python file with a TorchScript root.");
      return;
    }
    const lenses =
      (await vscode.commands.executeCommand<vscode.CodeLens[]>(
        "vscode.executeCodeLensProvider",
        editor.document.uri,
      )) ?? [];
    const roots = lenses.filter(
      (lens) => lens.command?.command === SHOW_COMMAND && lens.command.arguments?.[2] !== "graph",
    );
    if (roots.length === 0) {
      void vscode.window.showInformationMessage(
        "tscheck: no TorchScript root in this file (a torch.jit.script target or an nn.Module's forward).",
      );
      return;
    }
    const cursor = editor.selection.active.line;
    const around = roots.filter((lens) => lens.range.start.line <= cursor).pop();
    let chosen = roots.length === 1 ? roots[0] : undefined;
    if (!chosen) {
      const items = roots.map((lens) => ({
        label: String(lens.command?.arguments?.[1]),
        description: `line ${lens.range.start.line + 1}`,
        lens,
      }));
      if (around) items.sort((a, b) => Number(b.lens === around) - Number(a.lens === around));
      chosen = (await vscode.window.showQuickPick(items, { placeHolder: "Show the TorchScript code of" }))?.lens;
    }
    if (!chosen?.command) return;
    const [uri, root] = chosen.command.arguments ?? [];
    await vscode.commands.executeCommand(SHOW_COMMAND, uri, root, "code");
  }

  private async showAnswer(answer: ShowAnswer | undefined): Promise<void> {
    if (!answer) return;
    if (answer.error) {
      void vscode.window.showWarningMessage(`tscheck: ${answer.error}`);
      return;
    }
    if (!answer.text) {
      // The server says why it does not script as a window/showMessage warning, which the default
      // tscheck.showNotifications (onError) only logs: the user asked, so show it here then.
      if (answer.message && !shouldNotify(this.settings.showNotifications, MessageType.Warning)) {
        void vscode.window.showWarningMessage(`tscheck: ${answer.root ?? "the root"} does not script: ${answer.message}`);
      }
      return;
    }
    const what = answer.what === "graph" ? "graph" : "code";
    const uri = vscode.Uri.from({ scheme: SCHEME, path: `/${answer.root ?? "root"}.${what}.py` });
    this.shown.set(uri, answer.text);
    let document = await vscode.workspace.openTextDocument(uri);
    document = await vscode.languages.setTextDocumentLanguage(document, what === "code" ? "python" : "plaintext");
    await vscode.window.showTextDocument(document, { viewColumn: vscode.ViewColumn.Beside, preview: true });
  }

  async deactivate(): Promise<void> {
    await this.stop();
  }
}

let extension: TscheckExtension | undefined;

/**
 * Test mode (tests/e2e/test_vscode.py): with TSCHECK_TEST_DIAGNOSTICS_FILE set, every change of
 * tscheck's diagnostics is written there as JSON, a check independent of how the page renders them.
 */
function writeDiagnosticsForTests(file: string): vscode.Disposable {
  return vscode.languages.onDidChangeDiagnostics(() => {
    const all = vscode.languages.getDiagnostics().flatMap(([uri, diagnostics]) =>
      diagnostics
        .filter((d) => d.source === "tscheck")
        .map((d) => ({
          uri: uri.toString(),
          line: d.range.start.line + 1,
          code: typeof d.code === "object" ? String(d.code.value) : String(d.code),
          message: d.message,
        })),
    );
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(all));
    fs.renameSync(`${file}.tmp`, file);
  });
}

/** Test mode too: the URIs of the visible editors go to `${file}.editors.json` whenever they change. */
function writeEditorsForTests(file: string): vscode.Disposable {
  return vscode.window.onDidChangeVisibleTextEditors((editors) => {
    const uris = editors.map((editor) => editor.document.uri.toString());
    fs.writeFileSync(`${file}.editors.tmp`, JSON.stringify(uris));
    fs.renameSync(`${file}.editors.tmp`, `${file}.editors.json`);
  });
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  extension = new TscheckExtension();
  context.subscriptions.push(extension);
  const testFile = process.env.TSCHECK_TEST_DIAGNOSTICS_FILE;
  if (testFile) context.subscriptions.push(writeDiagnosticsForTests(testFile), writeEditorsForTests(testFile));
  await extension.watchPythonExtension();
  const reason = await startReason();
  if (reason) {
    await extension.start(reason);
    return;
  }
  // Activated by a pyproject.toml that does not configure tscheck: wait for a Python file.
  const waiting = vscode.workspace.onDidOpenTextDocument((document) => {
    if (document.languageId !== "python") return;
    waiting.dispose();
    void extension?.start("a Python file was opened");
  });
  context.subscriptions.push(waiting);
  if (vscode.workspace.textDocuments.some((document) => document.languageId === "python")) {
    waiting.dispose(); // one opened while the pyproject.toml files were read
    await extension.start("a Python file is open");
  }
}

/** Why to start the server at activation, or undefined to wait for a Python file (./activation.ts). */
async function startReason(): Promise<string | undefined> {
  const languages = vscode.workspace.textDocuments.map((document) => document.languageId);
  if (languages.includes("python")) return "a Python file is open";
  const readPyprojects = async (): Promise<string[]> => {
    const files = await vscode.workspace.findFiles("**/pyproject.toml", PYPROJECT_EXCLUDE, MAX_PYPROJECTS);
    const texts = await Promise.all(
      files.map(async (file) => {
        try {
          const bytes = await vscode.workspace.fs.readFile(file);
          return new TextDecoder().decode(bytes.subarray(0, MAX_PYPROJECT_BYTES));
        } catch {
          return "";
        }
      }),
    );
    return texts;
  };
  return (await shouldStartServer(languages, readPyprojects)) ? "a pyproject.toml has [tool.tscheck]" : undefined;
}

export async function deactivate(): Promise<void> {
  await extension?.deactivate();
  extension = undefined;
}
