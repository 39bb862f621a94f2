// Turns the model's raw answers into the fields the app stores. Models do not always follow
// the requested format to the letter, so the comment parser accepts the usual shapes:
// "1. text", "1) text", "１．text", "(1) text", "**1.** text", "- text", "• text", "・text", "Comment 1: text",
// text split over continuation lines, quotes around a comment, and a preamble line before the
// list ("Here are 3 comments:"). When no list marker is found it falls back to one comment
// per non-empty line (or paragraph).

const NUMBERED = /^\s*(?:\*\*)?(?:(?:comment|コメント)\s*)?[(（]?\s*([0-9０-９]{1,2})\s*[.．)）:：、](?:\*\*)?\s*(.*)$/i;
const BULLET = /^\s*[-*•・●◦▪]\s+(.*)$|^\s*[・●]\s*(.*)$/;
const QUOTES: Array<[string, string]> = [['"', '"'], ['“', '”'], ['「', '」'], ['『', '』'], ["'", "'"]];

function unquote(text: string): string {
  let t = text.trim();
  for (const [open, close] of QUOTES) {
    if (t.length >= 2 && t.startsWith(open) && t.endsWith(close)) t = t.slice(open.length, t.length - close.length).trim();
  }
  return t;
}

/** Removes markdown emphasis wrapped around a whole comment (**…**) and trailing spaces. */
function clean(text: string): string {
  let t = text.trim();
  const bold = /^\*\*(.+)\*\*$/.exec(t);
  if (bold) t = bold[1]!.trim();
  return unquote(t);
}

/** The text after a list marker on this line, or null when the line has none. */
function afterMarker(line: string): string | null {
  const numbered = NUMBERED.exec(line);
  if (numbered) return numbered[2] ?? '';
  const bullet = BULLET.exec(line);
  if (bullet) return bullet[1] ?? bullet[2] ?? '';
  return null;
}

export function parseComments(raw: string, expected: number): string[] {
  const lines = raw.replace(/\r\n?/g, '\n').split('\n');
  const marked: string[] = [];
  const plain: string[] = [];
  let current: string | null = null;
  const flush = () => {
    if (current !== null && clean(current)) marked.push(clean(current));
    current = null;
  };
  for (const line of lines) {
    const item = afterMarker(line);
    if (item !== null) {
      flush();
      current = item;
    } else if (line.trim() === '') {
      flush();
    } else {
      // A line without a marker continues the item above it; lines outside any item (a
      // preamble such as "Here are 3 comments:") are kept only for the no-marker fallback.
      if (current !== null) current += (current ? ' ' : '') + line.trim();
      else plain.push(line);
    }
  }
  flush();
  const found = marked.length > 0 ? marked : plain.map(clean).filter((l) => l.length > 0);
  return [...new Set(found)].slice(0, Math.max(1, expected));
}

/** The description: trimmed, without a leading label ("Description:", "説明：") or wrapping quotes. */
export function parseDescription(raw: string): string {
  let t = raw.replace(/\r\n?/g, '\n').trim();
  // "Description:", "**Description:**", "**Description**:" (the colon inside or outside the bold).
  t = t.replace(/^(?:\*\*)?(?:description|caption|説明|キャプション)(?:\s*[:：]\s*\*\*|\*\*\s*[:：]|\s*[:：])\s*/i, '');
  return unquote(t).trim();
}
