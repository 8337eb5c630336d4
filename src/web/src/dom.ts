// Finding a task's controls in the page (rows carry data-task-id, controls data-role).
export function taskControl(id: string, role: "toggle" | "edit" | "delete" = "toggle"): HTMLElement | null {
  const quoted = id.replace(/["\\]/g, "\\$&");
  return document.querySelector<HTMLElement>(`[data-task-id="${quoted}"] [data-role="${role}"]`);
}

