-- Headless Neovim (0.7+) as a third-party LSP client of tscheck-lsp, for tests/e2e/test_neovim.py.
-- Everything comes from the environment:
--   TSCHECK_NVIM_CMD      JSON list: the server command (the test's own interpreter)
--   TSCHECK_NVIM_ROOT     the workspace folder (root_dir)
--   TSCHECK_NVIM_OUT      where to write what arrived, as JSON
--   TSCHECK_NVIM_TIMEOUT  milliseconds to wait for the server's first publishDiagnostics
-- A vim.loop timer polls until the diagnostics have arrived, then this reads them with
-- vim.diagnostic.get(), asks the server for the code actions of each one, applies the first
-- tscheck quick fix with Neovim's own edit code, stops the server (shutdown + exit), writes the
-- JSON and quits with :qa! (exit 0), or with :cq! (exit 1) on a timeout or a Lua error.
-- Only Neovim 0.7 APIs (no vim.lsp.start, which is 0.8+).

local out_path = os.getenv("TSCHECK_NVIM_OUT")
if out_path == nil then
  vim.cmd("cq!")
end

local report = {
  nvim = vim.version(),
  publishes = 0,
  log_messages = {},
  diagnostics = {},
  actions = {},
  own_context = {},
  fixed_lines = {},
  errors = {},
}

local function finish(ok)
  local file = assert(io.open(out_path, "w"))
  file:write(vim.fn.json_encode(report))
  file:close()
  vim.cmd(ok and "qa!" or "cq!")
end

-- Publishes are counted so that "no diagnostics yet" is told apart from "the server found none".
local publish = vim.lsp.handlers["textDocument/publishDiagnostics"]
vim.lsp.handlers["textDocument/publishDiagnostics"] = function(err, result, ctx, config)
  publish(err, result, ctx, config)
  report.publishes = report.publishes + 1
end
vim.lsp.handlers["window/logMessage"] = function(_, result)
  table.insert(report.log_messages, { type = result.type, message = result.message })
end

local client_id

local function start()
  local cmd = vim.fn.json_decode(os.getenv("TSCHECK_NVIM_CMD") or "null")
  local root = os.getenv("TSCHECK_NVIM_ROOT")
  assert(type(cmd) == "table" and root ~= nil, "TSCHECK_NVIM_CMD or TSCHECK_NVIM_ROOT unset")
  client_id = vim.lsp.start_client({
    name = "tscheck",
    cmd = cmd,
    root_dir = root,
    on_exit = function(code, signal)
      report.server_exit = { code = code, signal = signal }
    end,
  })
  assert(client_id ~= nil, "vim.lsp.start_client failed")

  local function attach(buf)
    if vim.api.nvim_buf_get_name(buf):match("%.py$") then
      vim.lsp.buf_attach_client(buf, client_id)
    end
  end
  vim.api.nvim_create_autocmd("BufReadPost", {
    pattern = "*.py",
    callback = function(args)
      attach(args.buf)
    end,
  })
  -- The file named on the command line may already be loaded when this runs.
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(buf) then
      attach(buf)
    end
  end
end

-- An error here must not leave a headless Neovim waiting forever.
local started_ok, start_err = pcall(start)
if not started_ok then
  table.insert(report.errors, "start: " .. tostring(start_err))
  finish(false)
end

-- A byte column of the buffer as a UTF-16 column (what the server speaks).
local function utf16(buf, lnum, col)
  local line = vim.api.nvim_buf_get_lines(buf, lnum, lnum + 1, false)[1] or ""
  local _, units = vim.str_utfindex(line, math.min(col, #line))
  return units
end

-- Neovim 0.7 keeps only the extra LSP fields in user_data.lsp, so the diagnostic for
-- context.diagnostics is rebuilt by hand (range, message, severity, source, code; no `data`),
-- its byte columns turned back into UTF-16 ones.
local function rebuild(buf, d)
  return {
    range = {
      start = { line = d.lnum, character = utf16(buf, d.lnum, d.col) },
      ["end"] = { line = d.end_lnum, character = utf16(buf, d.end_lnum, d.end_col) },
    },
    message = d.message,
    severity = d.severity, -- vim.diagnostic.severity and LSP DiagnosticSeverity agree (1..4)
    source = d.source,
    code = d.code,
  }
end

-- textDocument/codeAction at `range` with `diagnostics` as the context: the actions and errors.
local function request_actions(buf, range, diagnostics)
  local params = {
    textDocument = vim.lsp.util.make_text_document_params(buf),
    range = range,
    context = { diagnostics = diagnostics },
  }
  local responses, err = vim.lsp.buf_request_sync(buf, "textDocument/codeAction", params, 5000)
  local actions, errors = {}, {}
  if err then
    table.insert(errors, tostring(err))
  end
  for _, response in pairs(responses or {}) do
    if response.err then
      table.insert(errors, response.err.message or vim.inspect(response.err))
    end
    for _, action in ipairs(response.result or {}) do
      table.insert(actions, action)
    end
  end
  return actions, errors
end

local function titles(actions)
  return vim.tbl_map(function(action)
    return action.title
  end, actions)
end

local function check(buf)
  local diagnostics = vim.diagnostic.get(buf)
  table.sort(diagnostics, function(a, b)
    return a.lnum < b.lnum or (a.lnum == b.lnum and a.col < b.col)
  end)
  local fix
  for _, d in ipairs(diagnostics) do
    table.insert(report.diagnostics, {
      lnum = d.lnum,
      col = d.col,
      end_lnum = d.end_lnum,
      end_col = d.end_col,
      severity = d.severity,
      message = d.message,
      source = d.source,
      code = d.code,
    })

    local sent = rebuild(buf, d)
    local actions, errors = request_actions(buf, sent.range, { sent })
    table.insert(report.actions, {
      code = d.code,
      range = sent.range,
      titles = titles(actions),
      errors = errors,
    })
    for _, action in ipairs(actions) do
      if fix == nil and action.edit and vim.startswith(action.title, "tscheck (") then
        fix = { action = action, diagnostic = d }
      end
    end

    -- What vim.lsp.buf.code_action() itself sends in 0.7: its own conversion, which merges
    -- user_data.lsp (data included) back in, and passes byte columns as characters.
    local own = vim.lsp.diagnostic.get_line_diagnostics(buf, d.lnum, nil, client_id)
    local own_actions, own_errors = request_actions(buf, sent.range, own)
    table.insert(report.own_context, {
      code = d.code,
      titles = titles(own_actions),
      errors = own_errors,
    })
  end

  if fix ~= nil then
    local client = vim.lsp.get_client_by_id(client_id)
    vim.lsp.util.apply_workspace_edit(fix.action.edit, client.offset_encoding)
    local d = fix.diagnostic
    report.fixed_code = d.code
    report.fixed_lines = vim.api.nvim_buf_get_lines(buf, d.lnum, d.end_lnum + 1, false)
  end

  -- The shutdown/exit handshake, seen from the client: the server's exit code.
  vim.lsp.stop_client(client_id)
  vim.wait(5000, function()
    return report.server_exit ~= nil
  end, 50)
end

local timeout_ms = tonumber(os.getenv("TSCHECK_NVIM_TIMEOUT") or "20000")
local started = vim.loop.now()
local timer = vim.loop.new_timer()
timer:start(100, 100, vim.schedule_wrap(function()
  if timer:is_closing() then
    return
  end
  local buf = vim.api.nvim_get_current_buf()
  local elapsed = vim.loop.now() - started
  if report.publishes == 0 and #vim.diagnostic.get(buf) == 0 then
    if elapsed > timeout_ms then
      timer:close()
      table.insert(report.errors, "timeout: no diagnostics in " .. timeout_ms .. " ms")
      finish(false)
    end
    return
  end
  timer:close()
  report.elapsed_ms = elapsed
  local ok, err = pcall(check, buf)
  if not ok then
    table.insert(report.errors, "lua: " .. tostring(err))
  end
  finish(ok)
end))
