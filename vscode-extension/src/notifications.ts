// Which of the server's window/showMessage messages become notifications (tscheck.showNotifications).
// Every message is logged to the output channel either way. Pure: no `vscode` import.

import type { NotificationLevel } from "./settings";

/** LSP MessageType: 1 error, 2 warning, 3 info, 4 log, 5 debug. */
export function shouldNotify(level: NotificationLevel, messageType: number): boolean {
  switch (level) {
    case "off":
      return false;
    case "onError":
      return messageType === 1;
    case "onWarning":
      return messageType <= 2;
    case "always":
      return messageType <= 3;
  }
}

/** Status bar text for the server's state (codicons; `~spin` animates). */
export type ServerState = "starting" | "running" | "busy" | "stopped" | "error" | "disabled";

export function statusText(state: ServerState, busyTitle?: string): { text: string; tooltip: string } {
  switch (state) {
    case "starting":
      return { text: "$(loading~spin) tscheck", tooltip: "tscheck: starting the server" };
    case "running":
      return { text: "$(check) tscheck", tooltip: "tscheck: the server is running" };
    case "busy":
      return { text: "$(sync~spin) tscheck", tooltip: `tscheck: ${busyTitle ?? "working"}` };
    case "stopped":
      return { text: "$(circle-slash) tscheck", tooltip: "tscheck: the server is stopped" };
    case "error":
      return { text: "$(error) tscheck", tooltip: "tscheck: the server could not start (click for the log)" };
    case "disabled":
      return { text: "$(circle-slash) tscheck", tooltip: "tscheck is disabled (tscheck.enable)" };
  }
}
