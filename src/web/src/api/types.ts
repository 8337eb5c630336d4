// The API's shapes, named once: every one comes from the generated OpenAPI types, so a
// changed backend model changes these and `tsc` points at each place that no longer fits.
import type { components, paths } from "./schema.gen";

type Schemas = components["schemas"];

export type Task = Schemas["TaskPublic"];
export type TaskPage = Schemas["TasksPublic"];
export type TaskCreate = Schemas["TaskCreate"];
export type TaskUpdate = Schemas["TaskUpdate"];
export type ReminderIn = Schemas["ReminderIn"];
export type ReminderSpec = Schemas["ReminderSpec"];
export type RecurrenceRule = Schemas["RecurrenceRule"];
export type Weekday = Schemas["Weekday"];
export type Frequency = Schemas["Frequency"];
export type Priority = Schemas["Priority"];
export type TaskStatus = Schemas["TaskStatus"];
export type Notification = Schemas["NotificationPublic"];
export type NotificationPage = Schemas["NotificationsPublic"];
export type User = Schemas["UserPublic"];
export type Token = Schemas["Token"];
export type FieldIssue = Schemas["ValidationError"];

export type TaskQuery = NonNullable<paths["/api/v1/tasks"]["get"]["parameters"]["query"]>;
export type TaskSort = NonNullable<TaskQuery["sort"]>;

export type { paths };
