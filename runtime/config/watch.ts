/**
 * Watches the bundle, values and overlay files. Directories are watched rather than files, so that
 * replacing a file by rename (editors, `kubectl` ConfigMap updates through the `..data` symlink swap)
 * is seen too. Bursts of events are coalesced into one callback.
 */
import { type FSWatcher, watch } from "node:fs";
import { basename, dirname, resolve } from "node:path";

export interface FileWatcher {
  close(): void;
}

export function watchFiles(files: readonly string[], onChange: () => void, debounceMs = 100): FileWatcher {
  const byDir = new Map<string, Set<string>>();
  for (const file of files) {
    const abs = resolve(file);
    const names = byDir.get(dirname(abs)) ?? new Set<string>();
    names.add(basename(abs));
    byDir.set(dirname(abs), names);
  }
  let timer: NodeJS.Timeout | undefined;
  const trigger = () => {
    clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
  };
  const watchers: FSWatcher[] = [];
  for (const [dir, names] of byDir) {
    const watcher = watch(dir, { persistent: false }, (_event, filename) => {
      const name = filename?.toString();
      // Kubernetes swaps `..data`; an unknown filename (some platforms) may be ours.
      if (name === undefined || names.has(name) || name.startsWith("..")) trigger();
    });
    watcher.on("error", () => undefined);
    watchers.push(watcher);
  }
  return {
    close() {
      clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}
