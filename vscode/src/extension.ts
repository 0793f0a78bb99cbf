// The VS Code side of retrace's debugger: the debug type `retrace` runs `retrace dap` (the Debug
// Adapter Protocol server, which does the work), a timeline view lists the recording's events and
// runs the replay to one, and "Last write" runs it back to where a value was stored. Everything
// here is a thin client of the adapter's custom requests (retrace/timeline, retrace/runToEvent,
// retrace/lastWrite).
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';

const TYPE = 'retrace';

interface TimelineEntry {
  event: number;
  time: number;
  kind: string;
  summary: string;
}

class AdapterFactory implements vscode.DebugAdapterDescriptorFactory {
  createDebugAdapterDescriptor(session: vscode.DebugSession): vscode.DebugAdapterDescriptor {
    const config = session.configuration;
    const folder = session.workspaceFolder?.uri.fsPath;
    const cwd = typeof config.cwd === 'string' && config.cwd ? config.cwd : folder ?? process.cwd();
    const node = typeof config.runtimeExecutable === 'string' && config.runtimeExecutable ? config.runtimeExecutable : 'node';
    const script = typeof config.retrace === 'string' && config.retrace ? path.resolve(cwd, config.retrace) : findRetrace(cwd);
    if (script) return new vscode.DebugAdapterExecutable(node, [script, 'dap'], { cwd });
    return new vscode.DebugAdapterExecutable('retrace', ['dap'], { cwd });
  }
}

/** retrace's bin/retrace.js in the project (or in a folder above it), when it is installed there. */
function findRetrace(cwd: string): string | null {
  for (let dir = cwd; ; dir = path.dirname(dir)) {
    for (const candidate of [path.join(dir, 'node_modules', 'retrace-node', 'bin', 'retrace.js')]) {
      if (fs.existsSync(candidate)) return candidate;
    }
    // retrace's own repository (its examples are recorded there).
    const own = path.join(dir, 'bin', 'retrace.js');
    try {
      if (fs.existsSync(own) && JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).name === 'retrace-node') return own;
    } catch {
      // not a package folder
    }
    if (path.dirname(dir) === dir) return null;
  }
}

class TimelineItem extends vscode.TreeItem {
  constructor(readonly entry: TimelineEntry) {
    super(`#${entry.event}  ${entry.summary}`, vscode.TreeItemCollapsibleState.None);
    this.description = `${entry.kind} · ${(entry.time / 1000).toFixed(3)} s`;
    this.tooltip = `Event ${entry.event} (${entry.kind}) at +${entry.time.toFixed(1)} ms: ${entry.summary}\nClick to run the replay to it.`;
    this.command = { command: 'retrace.runToEvent', title: 'Run to this event', arguments: [entry.event] };
  }
}

class TimelineProvider implements vscode.TreeDataProvider<TimelineItem> {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  /** The entries of the session last listed (the adapter answers once the recording is open). */
  private shown: { session: string; items: TimelineItem[] } | null = null;

  refresh(): void {
    this.shown = null;
    this.changed.fire();
  }

  /** Lists again only when the active session's entries are not shown yet. */
  refreshIfEmpty(): void {
    const session = retraceSession(false);
    if (session && (this.shown?.session !== session.id || this.shown.items.length === 0)) this.refresh();
  }

  getTreeItem(item: TimelineItem): vscode.TreeItem {
    return item;
  }

  async getChildren(): Promise<TimelineItem[]> {
    const session = retraceSession(false);
    if (!session) return [];
    if (this.shown?.session === session.id && this.shown.items.length > 0) return this.shown.items;
    let items: TimelineItem[] = [];
    try {
      const r = (await session.customRequest('retrace/timeline', { limit: 5000 })) as { entries: TimelineEntry[] };
      items = r.entries.map((e) => new TimelineItem(e));
    } catch {
      // not launched yet: listed at the first stop
    }
    this.shown = { session: session.id, items };
    return items;
  }
}

function retraceSession(complain = true): vscode.DebugSession | undefined {
  const session = vscode.debug.activeDebugSession;
  if (session?.type === TYPE) return session;
  if (complain) void vscode.window.showWarningMessage('No retrace debug session is running.');
  return undefined;
}

async function runToEvent(arg?: number | TimelineItem): Promise<void> {
  const session = retraceSession();
  if (!session) return;
  let event = typeof arg === 'number' ? arg : arg instanceof TimelineItem ? arg.entry.event : undefined;
  if (event === undefined) {
    const typed = await vscode.window.showInputBox({ prompt: 'Run the replay to event number', validateInput: (v) => (/^\d+$/.test(v) ? null : 'an event number') });
    if (typed === undefined) return;
    event = Number(typed);
  }
  try {
    await session.customRequest('retrace/runToEvent', { event });
  } catch (err) {
    void vscode.window.showErrorMessage(`retrace: ${(err as Error).message}`);
  }
}

/** The expression of a variable or watch item (its context menu), the selection, or one typed. */
async function expressionFor(arg: unknown): Promise<string | undefined> {
  const item = arg as { variable?: { evaluateName?: string; name?: string }; expression?: string } | undefined;
  const given = item?.variable?.evaluateName ?? item?.variable?.name ?? item?.expression;
  if (given) return given;
  const editor = vscode.window.activeTextEditor;
  const selected = editor && !editor.selection.isEmpty ? editor.document.getText(editor.selection).trim() : '';
  if (selected) return selected;
  return vscode.window.showInputBox({ prompt: 'Last write of (a variable or a property, e.g. order.total)' });
}

async function lastWrite(arg?: unknown): Promise<void> {
  const session = retraceSession();
  if (!session) return;
  const expression = await expressionFor(arg);
  if (!expression) return;
  const frame = vscode.debug.activeStackItem;
  const frameId = frame instanceof vscode.DebugStackFrame && frame.session.id === session.id ? frame.frameId : undefined;
  try {
    const r = (await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `retrace: finding the last write of ${expression}…` },
      () => session.customRequest('retrace/lastWrite', { expression, frameId }),
    )) as { value: string; stored: { file: string; line: number } | null; op: string };
    const where = r.stored ? `${vscode.workspace.asRelativePath(r.stored.file)}:${r.stored.line}` : 'its statement';
    void vscode.window.showInformationMessage(`${expression} = ${r.value}: stored at ${where} (made by ${r.op}). Stopped there, before it runs.`);
  } catch (err) {
    void vscode.window.showErrorMessage(`retrace: ${(err as Error).message}`);
  }
}

export function activate(context: vscode.ExtensionContext): void {
  const timeline = new TimelineProvider();
  context.subscriptions.push(
    vscode.debug.registerDebugAdapterDescriptorFactory(TYPE, new AdapterFactory()),
    vscode.window.registerTreeDataProvider('retrace.timeline', timeline),
    vscode.commands.registerCommand('retrace.runToEvent', runToEvent),
    vscode.commands.registerCommand('retrace.lastWrite', lastWrite),
    vscode.commands.registerCommand('retrace.refreshTimeline', () => timeline.refresh()),
    vscode.debug.onDidChangeActiveDebugSession(() => timeline.refresh()),
    vscode.debug.onDidChangeActiveStackItem(() => timeline.refreshIfEmpty()),
    vscode.debug.onDidStartDebugSession((s) => {
      if (s.type === TYPE) timeline.refresh();
    }),
  );
}

export function deactivate(): void {}
