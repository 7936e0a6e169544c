import { compareAuditIds, type AuditEntry } from '../../core/audit.js';

/**
 * Merges per-service streams newest first. Ids are unique within one service's
 * stream only, so two services can share an id; `before` is exclusive, so a page
 * ending inside a group of equal ids would hide the rest of the group from the
 * next page. The page therefore ends before such a group, or, if the group opens
 * the page, takes all of it (at most one entry per service).
 */
export function newestFirstPage(entries: AuditEntry[], limit: number): AuditEntry[] {
  entries.sort((a, b) => compareAuditIds(b.id, a.id) || a.service.localeCompare(b.service));
  const boundary = entries[limit - 1]?.id;
  if (entries.length <= limit || entries[limit]?.id !== boundary) return entries.slice(0, limit);
  const groupStart = entries.findIndex((entry) => entry.id === boundary);
  if (groupStart > 0) return entries.slice(0, groupStart);
  return entries.filter((entry) => entry.id === boundary);
}
