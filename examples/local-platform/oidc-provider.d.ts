// The part of oidc-provider 9's API the local authorization server uses (the package ships no types,
// and @types/oidc-provider trails the major version).
declare module "oidc-provider" {
  import type { IncomingMessage, ServerResponse } from "node:http";

  export interface OidcContext {
    readonly oidc: {
      readonly params: Record<string, unknown> | undefined;
      readonly client:
        | {
            readonly clientId: string;
            /** The scopes the client may ask for, space-separated (its `scope` metadata). */
            readonly scope?: string;
            grantTypeAllowed(type: string): boolean;
          }
        | undefined;
      readonly provider: Provider;
    };
    body: unknown;
  }

  export interface ResourceServerLike {
    readonly audience: string;
    readonly scope: string;
    readonly accessTokenFormat: "jwt" | "opaque";
    readonly accessTokenTTL?: number;
    readonly jwt?: { sign?: { alg?: string } };
    identifier(): string;
    readonly scopes?: Set<string>;
  }

  export interface AccessTokenInstance {
    resourceServer: ResourceServerLike | undefined;
    readonly clientId: string | undefined;
    readonly accountId: string | undefined;
    readonly scope: string | undefined;
    readonly expiration: number;
    readonly tokenType: string;
    save(): Promise<string>;
  }

  export interface GrantInstance {
    addOIDCScope(scope: string): void;
    addResourceScope(resource: string, scope: string): void;
    save(): Promise<string>;
  }

  export interface InteractionDetails {
    readonly uid: string;
    readonly prompt: { readonly name: string; readonly details: Record<string, unknown> };
    readonly params: Record<string, unknown>;
    readonly session?: { readonly accountId?: string };
    readonly grantId?: string;
  }

  export interface Configuration {
    [key: string]: unknown;
  }

  export class Provider {
    constructor(issuer: string, configuration?: Configuration);
    readonly issuer: string;
    proxy: boolean;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    registerGrantType(
      name: string,
      handler: (ctx: OidcContext) => Promise<void>,
      params?: string | string[] | Set<string>,
      dupes?: string | string[],
    ): void;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
    interactionFinished(
      req: IncomingMessage,
      res: ServerResponse,
      result: Record<string, unknown>,
      options?: { mergeWithLastSubmission?: boolean },
    ): Promise<void>;
    on(event: string, listener: (...args: unknown[]) => void): this;
    readonly AccessToken: new (init: {
      client?: unknown;
      accountId?: string;
      scope?: string;
      gty?: string;
      grantId?: string;
      expiresIn?: number;
      extra?: Record<string, unknown>;
    }) => AccessTokenInstance;
    readonly Grant: new (init: { accountId: string; clientId: string }) => GrantInstance;
  }

  export const errors: {
    InvalidTarget: new (description?: string) => Error;
    InvalidGrant: new (description?: string) => Error;
    InvalidRequest: new (description?: string) => Error;
    InvalidScope: new (description?: string, scope?: string) => Error;
  };

  export default Provider;
}
