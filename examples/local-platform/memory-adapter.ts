/**
 * oidc-provider storage for the local authorization server: in memory, per server instance (the
 * library's default adapter is a process-wide LRU shared by every instance and warns on every start).
 * Local and test use only: nothing survives a restart, by design.
 */

type Payload = Record<string, unknown> & { grantId?: string; userCode?: string; uid?: string; consumed?: number };

interface Entry {
  payload: Payload;
  expiresAt: number;
}

/** Returns an adapter class bound to its own store, as oidc-provider's `adapter` option expects. */
export function createMemoryAdapter(now: () => number = Date.now) {
  const store = new Map<string, Entry>();
  const live = (key: string): Payload | undefined => {
    const entry = store.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= now()) {
      store.delete(key);
      return undefined;
    }
    return entry.payload;
  };

  return class MemoryAdapter {
    constructor(private readonly model: string) {}

    private key(id: string): string {
      return `${this.model}:${id}`;
    }

    async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
      store.set(this.key(id), {
        payload,
        expiresAt: typeof expiresIn === "number" ? now() + expiresIn * 1000 : Number.POSITIVE_INFINITY,
      });
    }

    async find(id: string): Promise<Payload | undefined> {
      return live(this.key(id));
    }

    async findByUserCode(userCode: string): Promise<Payload | undefined> {
      for (const [key] of store)
        if (key.startsWith(`${this.model}:`) && live(key)?.userCode === userCode) return live(key);
      return undefined;
    }

    async findByUid(uid: string): Promise<Payload | undefined> {
      for (const [key] of store) if (key.startsWith(`${this.model}:`) && live(key)?.uid === uid) return live(key);
      return undefined;
    }

    async consume(id: string): Promise<void> {
      const payload = live(this.key(id));
      if (payload) payload.consumed = Math.floor(now() / 1000);
    }

    async destroy(id: string): Promise<void> {
      store.delete(this.key(id));
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      for (const [key, entry] of store) if (entry.payload.grantId === grantId) store.delete(key);
    }
  };
}
