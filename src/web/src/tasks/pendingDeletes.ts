// A deleted task disappears at once but is deleted on the server only when its Undo is
// gone (the toast closed, another action replaced it, the page is left or the user signs
// out), so that Undo restores the very task: its id, history and series.
import { api } from "../api/client";
import { ApiError } from "../api/errors";
import type { Task } from "../api/types";
import type { TaskBoard } from "./board";

export class PendingDeletes {
  private pending = new Map<string, Task>();
  private readonly board: TaskBoard;

  constructor(board: TaskBoard) {
    this.board = board;
  }

  has(id: string): boolean {
    return this.pending.has(id);
  }

  stage(task: Task): void {
    this.pending.set(task.id, task);
    this.board.hide(task.id);
  }

  cancel(id: string): void {
    this.pending.delete(id);
    this.board.unhide(id);
  }

  /** Delete on the server; the error when it refused (the task shows again). */
  async commit(id: string, keepalive = false): Promise<ApiError | null> {
    const task = this.pending.get(id);
    if (!task) return null;
    this.pending.delete(id);
    try {
      await api.deleteTask(task.id, task.version, keepalive);
      this.board.drop(task.id);
      return null;
    } catch (err) {
      if (err instanceof ApiError && err.code === "not_found") {
        this.board.drop(task.id); // gone already: what the user wanted
        return null;
      }
      this.board.unhide(task.id);
      return err as ApiError;
    }
  }

  /** Commit every delete still waiting (with keepalive when the page is going away). */
  async commitAll(keepalive: boolean): Promise<ApiError[]> {
    const results = await Promise.all([...this.pending.keys()].map((id) => this.commit(id, keepalive)));
    return results.filter((e): e is ApiError => e !== null);
  }
}
