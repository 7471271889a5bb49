/**
 * The prompt-injection patterns of `@andersmyrmel/vard` 1.2.0 (MIT License, Copyright (c) 2025 Anders
 * Myrmel), copied verbatim from its `src/patterns/*.ts` so the guard can compile them once at load and
 * run only the ones a policy counts: vard itself builds a new RegExp for every pattern on every call and
 * runs all of them. `test/policies/guard-injection-parity.test.ts` checks, against vard itself, that the
 * guard decides exactly as vard does; when vard is upgraded, copy its patterns again.
 */
import type { Pattern } from "@andersmyrmel/vard";

// vard src/patterns/instruction.ts
const INSTRUCTION_OVERRIDE: readonly Pattern[] = [
  // "ignore (all/previous/prior/above) (previous/prior) (instructions/directives/commands)"
  // Supports: "ignore all previous instructions", "ignore previous instructions", "ignore instructions"
  {
    regex:
      /\bignore\s+(?:(?:all|the)\s+)?(?:previous|prior|above|remaining|other)?\s*(?:instructions|directives|commands|rules|prompts?|context)\b/i,
    severity: 0.9,
    type: "instructionOverride",
  },
  // "disregard (the) (system/previous) (prompt/instructions)"
  {
    regex: /\bdisregard\s+(?:the\s+)?(?:system|previous)\s+(?:prompt|instructions)\b/i,
    severity: 0.9,
    type: "instructionOverride",
  },
  // "forget (everything/all/what) (you/i) (said/told/were told)"
  {
    regex: /\bforget\s+(?:everything|all|what)\s+(?:you|i)\s+(?:said|told|mentioned|were\s+told)\b/i,
    severity: 0.85,
    type: "instructionOverride",
  },
  // "new (instructions/task/directive)"
  {
    regex: /\bnew\s+(?:instructions?|tasks?|directives?)\b/i,
    severity: 0.8,
    type: "instructionOverride",
  },
  // "override (previous/system) (instructions/rules)"
  {
    regex: /\boverride\s+(?:previous|system|all)\s+(?:instructions|rules|directives)\b/i,
    severity: 0.9,
    type: "instructionOverride",
  },
  // "instead (follow/use/do)"
  {
    regex: /\binstead\s+(?:follow|use|do|obey)\b/i,
    severity: 0.7,
    type: "instructionOverride",
  },
  // "start over" / "begin again" / "restart" - excludes "start over with" (legitimate)
  {
    regex: /\b(?:start\s+over(?:\s+from\s+scratch)?(?!\s+with)|begin\s+again|restart)\b/i,
    severity: 0.75,
    // Increased from 0.6 to be above moderate threshold
    type: "instructionOverride",
  },
  // "reset (to/your) (default/initial)"
  {
    regex: /\breset\s+(?:to\s+)?(?:default|initial|factory)\b/i,
    severity: 0.75,
    type: "instructionOverride",
  },
  // "spell backward(s)" - obfuscation technique
  {
    regex:
      /\bspell(?:ed)?\s+(?:(?:it|this|that)\s+)?(?:backwards?|in\s+reverse)\s+(?:and\s+)?(?:execute|run|follow|do|perform|obey)/i,
    severity: 0.9,
    type: "instructionOverride",
  },
  // "decode (base64/hex/rot13/etc) and (execute/follow/run)"
  {
    regex:
      /\b(?:decode|decrypt|decipher)\s+(?:this\s+|the\s+)?(?:base64|base-64|b64|hex|hexadecimal|rot13|rot-13|binary|unicode)\s+(?:and\s+)?(?:execute|follow|run|do|perform|obey)/i,
    severity: 0.9,
    type: "instructionOverride",
  },
  // "rot13/base64/hex decode" (reversed order)
  {
    regex:
      /\b(?:base64|base-64|b64|hex|hexadecimal|rot13|rot-13|binary|unicode)\s+(?:decode|decrypt|decipher)\s+(?:and\s+)?(?:execute|follow|run|do|perform|obey)/i,
    severity: 0.9,
    type: "instructionOverride",
  },
  // "translate from (hex/base64/etc)" - obfuscation
  {
    regex:
      /\btranslate\s+from\s+(?:hex|hexadecimal|base64|base-64|binary|morse|rot13|rot-13)\s+(?:to\s+text\s+)?(?:and\s+)?(?:execute|follow|run|do|perform)?/i,
    severity: 0.85,
    type: "instructionOverride",
  },
  // "unscramble/rearrange and (execute/follow)"
  {
    regex:
      /\b(?:unscramble|rearrange|reorder|decode)\s+(?:these\s+|the\s+)?(?:letters?|words?|characters?)\s+(?:and\s+)?(?:execute|follow|run|do|perform|obey)/i,
    severity: 0.85,
    type: "instructionOverride",
  },
  // "do not (say/respond/reply)" + "instead" - negative directive
  {
    regex: /\b(?:do\s+not|don't|never)\s+(?:say|respond|reply|answer|tell|refuse|comply|follow)\s+.{1,50}?\binstead\b/i,
    severity: 0.85,
    type: "instructionOverride",
  },
  // "don't/do not (follow/comply with) (your/the) (rules/guidelines)"
  {
    regex:
      /\b(?:do\s+not|don't)\s+(?:follow|comply\s+with|obey|adhere\s+to)\s+(?:your|the)?\s*(?:rules|guidelines|instructions|constraints|restrictions)\b/i,
    severity: 0.8,
    type: "instructionOverride",
  },
  // "don't respond with (safety) warnings/filters/checks"
  {
    regex:
      /\b(?:do\s+not|don't)\s+respond\s+with\s+(?:safety\s+)?(?:warnings?|filters?|checks?|restrictions?|limitations?)\b/i,
    severity: 0.75,
    type: "instructionOverride",
  },
  // "never refuse" / "always (answer/comply)"
  {
    regex: /\b(?:never\s+refuse|always\s+(?:answer|comply|obey|respond|follow))\b/i,
    severity: 0.8,
    type: "instructionOverride",
  },
];

// vard src/patterns/role.ts
const ROLE_MANIPULATION: readonly Pattern[] = [
  // "you are (now) (a/an) [role]"
  {
    regex: /\byou\s+are\s+(?:now\s+)?(?:a|an)\s+\w{3,20}\b/i,
    severity: 0.85,
    type: "roleManipulation",
  },
  // "you're (now) (a/an) [role]"
  {
    regex: /\byou're\s+(?:now\s+)?(?:a|an)\s+\w{3,20}\b/i,
    severity: 0.85,
    type: "roleManipulation",
  },
  // "pretend (you are/to be)"
  {
    regex: /\bpretend\s+(?:you\s+are|to\s+be|that\s+you)\b/i,
    severity: 0.8,
    type: "roleManipulation",
  },
  // "roleplay as"
  {
    regex: /\broleplay\s+as\b/i,
    severity: 0.8,
    type: "roleManipulation",
  },
  // "act (as/like)" - updated to handle multi-word roles
  {
    regex: /\bact\s+(?:as|like)\s+(?:a|an)?\s*\w+(?:\s+\w+){0,3}\b/i,
    severity: 0.75,
    type: "roleManipulation",
  },
  // "behave (as/like)" - updated to handle multi-word roles
  {
    regex: /\bbehave\s+(?:as|like)\s+(?:a|an)?\s*\w+(?:\s+\w+){0,3}\b/i,
    severity: 0.75,
    type: "roleManipulation",
  },
  // "from now on, you (are/will be)"
  {
    regex: /\bfrom\s+now\s+on,?\s+you\s+(?:are|will\s+be)\b/i,
    severity: 0.85,
    type: "roleManipulation",
  },
  // "simulate (being/that you are)"
  {
    regex: /\bsimulate\s+(?:being|that\s+you\s+are)\b/i,
    severity: 0.8,
    type: "roleManipulation",
  },
  // "your new role is"
  {
    regex: /\byour\s+new\s+role\s+is\b/i,
    severity: 0.9,
    type: "roleManipulation",
  },
  // "assume the role of"
  {
    regex: /\bassume\s+the\s+role\s+of\b/i,
    severity: 0.85,
    type: "roleManipulation",
  },
  // "developer mode" / "dev mode" / "test mode"
  {
    regex: /\b(?:developer|dev|test|testing|debug|admin|god|research)\s+mode\b/i,
    severity: 0.85,
    type: "roleManipulation",
  },
  // "enable/activate (developer/test) mode"
  {
    regex: /\b(?:enable|activate|turn\s+on|switch\s+to)\s+(?:developer|dev|test|debug|admin|god)\s+mode\b/i,
    severity: 0.9,
    type: "roleManipulation",
  },
  // "for educational purposes" / "for research purposes"
  {
    regex: /\bfor\s+(?:educational|research|testing|academic|scientific)\s+purposes\s+only\b/i,
    severity: 0.7,
    type: "roleManipulation",
  },
  // "hypothetically/theoretically speaking" - hypothetical framing
  {
    regex: /\b(?:hypothetically|theoretically)\s+speaking[,\s]+(?:if|what|how)/i,
    severity: 0.75,
    type: "roleManipulation",
  },
  // "imagine (if/that/you)" / "suppose (that/you)"
  {
    regex: /\b(?:imagine|suppose)\s+(?:if|that|you|for\s+a\s+moment)/i,
    severity: 0.7,
    type: "roleManipulation",
  },
  // "this is (just) a (test/simulation/game)"
  {
    regex: /\bthis\s+is\s+(?:just\s+)?(?:a\s+)?(?:test|simulation|game|exercise|scenario)\b/i,
    severity: 0.75,
    type: "roleManipulation",
  },
  // "DAN mode" / "jailbreak mode" / "unrestricted mode"
  {
    regex: /\b(?:DAN|jailbreak|unrestricted|unfiltered|uncensored)\s+(?:mode|version)\b/i,
    severity: 0.95,
    type: "roleManipulation",
  },
  // Temporal exploitation: "legal now" / "allowed now"
  {
    regex: /\b(?:legal|allowed|permitted|acceptable)\s+now\b|\bnow\s+(?:legal|allowed|permitted)\b/i,
    severity: 0.8,
    type: "roleManipulation",
  },
];

// vard src/patterns/delimiter.ts
const DELIMITER_INJECTION: readonly Pattern[] = [
  // XML-style tags: <system>, </system>, <user>, <assistant>
  {
    regex: /<\/?(?:system|user|assistant|human|ai|context|instruction|prompt)>/gi,
    severity: 0.95,
    type: "delimiterInjection",
  },
  // Bracket-style markers: [SYSTEM], [USER], [/SYSTEM]
  {
    regex: /\[\/?\s*(?:system|user|assistant|human|ai|context|instruction|prompt)\s*\]/gi,
    severity: 0.95,
    type: "delimiterInjection",
  },
  // Hash-style markers: ###SYSTEM###, ###ADMIN###
  {
    regex: /#{2,}\s*(?:system|admin|root|user|assistant|instruction|prompt)\s*#{2,}/gi,
    severity: 0.9,
    type: "delimiterInjection",
  },
  // Markdown-style: ## SYSTEM, ## USER
  {
    regex: /^#{1,6}\s+(?:system|user|assistant|human|ai|context|instruction|prompt)\s*$/gim,
    severity: 0.8,
    type: "delimiterInjection",
  },
  // Colon-style: SYSTEM:, USER:, ASSISTANT:
  {
    regex: /\b(?:system|user|assistant|human|ai|context|instruction|prompt)\s*:/gi,
    severity: 0.7,
    type: "delimiterInjection",
  },
  // Role indicators in caps: SYSTEM, USER (standalone)
  {
    regex: /\b(?:SYSTEM|USER|ASSISTANT|HUMAN|AI|CONTEXT|INSTRUCTION|PROMPT)\b/g,
    severity: 0.65,
    type: "delimiterInjection",
  },
];

// vard src/patterns/leak.ts
const SYSTEM_PROMPT_LEAK: readonly Pattern[] = [
  // "repeat/reveal/show (me) (the) (system/initial/original) (prompt/instructions)"
  {
    regex:
      /\b(?:repeat|reveal|show|tell\s+me|display|output|print)\s+(?:me\s+)?(?:the\s+)?(?:your\s+)?(?:system|initial|original|above|previous)?\s*(?:prompt|instructions|guidelines|rules|directives)\b/i,
    severity: 0.95,
    type: "systemPromptLeak",
  },
  // "what (were/are) (your/the) (original) (instructions/guidelines/rules)"
  {
    regex:
      /\bwhat\s+(?:were|are|is)\s+(?:your|the)\s+(?:original\s+)?(?:instructions|guidelines|rules|directives|prompt)\b/i,
    severity: 0.9,
    type: "systemPromptLeak",
  },
  // "print/output/display (your/the) (system) (prompt/instructions)"
  {
    regex:
      /\b(?:print|output|display|show|reveal)\s+(?:your|the)\s+(?:system\s+)?(?:prompt|instructions|guidelines|rules)\b/i,
    severity: 0.95,
    type: "systemPromptLeak",
  },
  // "what is your system prompt"
  {
    regex: /\bwhat\s+(?:is|was)\s+your\s+system\s+prompt\b/i,
    severity: 0.95,
    type: "systemPromptLeak",
  },
  // "tell me about your instructions"
  {
    regex: /\btell\s+me\s+about\s+your\s+(?:instructions|guidelines|rules|directives|prompt)\b/i,
    severity: 0.85,
    type: "systemPromptLeak",
  },
  // "how were you configured"
  {
    regex: /\bhow\s+were\s+you\s+(?:configured|programmed|instructed|set\s+up)\b/i,
    severity: 0.8,
    type: "systemPromptLeak",
  },
  // "what are you not allowed to do"
  {
    regex: /\bwhat\s+(?:are|were)\s+you\s+(?:not\s+)?(?:allowed|forbidden|prohibited|told)\s+to\s+(?:do|say)\b/i,
    severity: 0.75,
    type: "systemPromptLeak",
  },
  // "fence/format/wrap the prompt in markdown/code/text block"
  {
    regex:
      /\b(?:fence|format|wrap|enclose|put)\s+(?:the\s+)?(?:above\s+)?(?:prompt|instructions|content|text)\s+(?:in|inside|within)\s+(?:a\s+)?(?:markdown|code|text|raw)\s*(?:block|fence)?\b/i,
    severity: 0.9,
    type: "systemPromptLeak",
  },
  // "re-transcript/transcribe/copy the above content/text/prompt"
  {
    regex:
      /\b(?:re-?transcript|re-?transcribe|copy|reproduce|replicate|duplicate)\s+(?:the\s+)?(?:above|previous|prior)\s+(?:content|text|prompt|instructions|message|conversation)\b/i,
    severity: 0.9,
    type: "systemPromptLeak",
  },
  // "output/return/give the above/previous (in) format"
  {
    regex:
      /\b(?:output|return|give|provide)\s+(?:the\s+)?(?:above|previous|prior)\s+(?:content|text|prompt|instructions|message)?\s*(?:in|inside|as)?\s*(?:markdown|code|text|raw|verbatim)?\b/i,
    severity: 0.85,
    type: "systemPromptLeak",
  },
  // "repeat (all) (previous/prior) (messages/conversation)"
  {
    regex:
      /\brepeat\s+(?:all\s+)?(?:the\s+)?(?:previous|prior|earlier|past)\s+(?:messages?|conversations?|inputs?|prompts?|exchanges?)\b/i,
    severity: 0.9,
    type: "systemPromptLeak",
  },
  // "what did (the) (last/previous/other) user(s) (ask/say)"
  {
    regex:
      /\bwhat\s+did\s+(?:the\s+)?(?:last|previous|prior|other|earlier)\s+(?:users?|persons?|people)\s+(?:ask|say|tell|request|want)\b/i,
    severity: 0.85,
    type: "systemPromptLeak",
  },
  // "show/display (me) (the) conversation history/log/messages"
  {
    regex:
      /\b(?:show|display)\s+(?:me\s+)?(?:the\s+)?(?:full\s+)?(?:conversation|chat|message|dialogue|earlier)\s+(?:history|log|record|transcript|messages)\b/i,
    severity: 0.9,
    type: "systemPromptLeak",
  },
  // "display the message/chat transcript"
  {
    regex: /\bdisplay\s+(?:the\s+)?(?:message|chat|conversation)\s+(?:transcript|history|log|record)\b/i,
    severity: 0.9,
    type: "systemPromptLeak",
  },
  // "summarize (everything) (we've) discussed"
  {
    regex:
      /\bsummarize\s+(?:everything|all)\s+(?:we've|we\s+have|that\s+we've|that\s+we\s+have)\s+(?:discussed|talked\s+about|covered)\b/i,
    severity: 0.8,
    type: "systemPromptLeak",
  },
  // "print (all) (prior/previous) (inputs/messages)"
  {
    regex:
      /\bprint\s+(?:all\s+)?(?:prior|previous|past|earlier)\s+(?:inputs?|messages?|prompts?|conversations?|exchanges?)\b/i,
    severity: 0.9,
    type: "systemPromptLeak",
  },
];

// vard src/patterns/encoding.ts
const ENCODING: readonly Pattern[] = [
  // Base64 encoded content (long sequences that look like base64)
  // Min 40 chars to avoid false positives on short strings
  {
    regex: /[A-Za-z0-9+/]{40,}={0,2}/g,
    severity: 0.7,
    type: "encoding",
  },
  // Hex escape sequences: \xNN (multiple in sequence)
  {
    regex: /(?:\\x[0-9A-Fa-f]{2}){5,}/g,
    severity: 0.85,
    type: "encoding",
  },
  // Hex values: 0xNN (multiple in sequence)
  {
    regex: /(?:0x[0-9A-Fa-f]{2,}\s*){5,}/g,
    severity: 0.8,
    type: "encoding",
  },
  // Unicode escape sequences: \uNNNN (multiple in sequence)
  {
    regex: /(?:\\u[0-9A-Fa-f]{4}){5,}/g,
    severity: 0.85,
    type: "encoding",
  },
  // HTML entities: &# sequences (multiple)
  {
    regex: /(?:&#{1,2}[xX]?[0-9A-Fa-f]+;){5,}/g,
    severity: 0.8,
    type: "encoding",
  },
  // URL encoded: % sequences (multiple)
  {
    regex: /(?:%[0-9A-Fa-f]{2}){5,}/g,
    severity: 0.75,
    type: "encoding",
  },
  // Null bytes (suspicious)
  {
    regex: /\x00+/g,
    severity: 0.95,
    type: "encoding",
  },
  // Unicode directional override characters (used for obfuscation)
  {
    regex: /[\u202A-\u202E\u2066-\u2069]+/g,
    severity: 0.9,
    type: "encoding",
  },
  // Zalgo text (combining diacriticals)
  {
    regex: /[\u0300-\u036F]{3,}/g,
    severity: 0.85,
    type: "encoding",
  },
];

// vard src/patterns/obfuscation.ts
const OBFUSCATION: readonly Pattern[] = [
  // Zero-width character attacks - highly suspicious
  // U+200B (zero-width space), U+200C (zero-width non-joiner),
  // U+200D (zero-width joiner), U+FEFF (zero-width no-break space)
  {
    regex: /[\u200B\u200C\u200D\uFEFF]/g,
    severity: 0.85,
    type: "encoding",
  },
  // Right-to-left override markers - almost always malicious
  // U+202E (RTL override), U+202D (LTR override)
  {
    regex: /[\u202E\u202D]/g,
    severity: 0.95,
    type: "encoding",
  },
  // Character insertion with underscores - "i_g_n_o_r_e"
  // Only flag if combined with suspicious keywords
  {
    regex: /\bi[\s._-]g[\s._-]n[\s._-]o[\s._-]r[\s._-]e\b/i,
    severity: 0.9,
    type: "instructionOverride",
  },
  // Homoglyph: "ignore" with any homoglyph character
  // Matches: Ιgnore, іgnore, ignοre, ignоre, etc.
  {
    regex: /[ΙІі]gn[oοо]re?|ign[οо]re/i,
    severity: 0.95,
    type: "instructionOverride",
  },
  // Excessive spacing (4+ spaces between words) - suspicious
  {
    regex: /\w+\s{4,}\w+/,
    severity: 0.6,
    type: "encoding",
  },
  // Full-width Unicode Latin letters (3+ in sequence)
  {
    regex: /[\uFF21-\uFF3A\uFF41-\uFF5A]{3,}/,
    severity: 0.7,
    type: "encoding",
  },
  // Uncommon Unicode spaces
  {
    regex: /[\u2000-\u200A\u202F\u205F]/g,
    severity: 0.65,
    type: "encoding",
  },
];

/** vard's patterns in vard's order (its `allPatterns`). */
export const VARD_PATTERNS: readonly Pattern[] = [
  ...INSTRUCTION_OVERRIDE,
  ...ROLE_MANIPULATION,
  ...DELIMITER_INJECTION,
  ...SYSTEM_PROMPT_LEAK,
  ...ENCODING,
  ...OBFUSCATION,
];
