// A round badge with a person's initial, its colour derived from their id (CSS classes, so the
// Content-Security-Policy needs no inline styles).

const HUES = 12;

function hueOf(id: string): number {
  let hash = 0;
  for (let i = 0; i < id.length; i++) hash = (hash * 31 + id.charCodeAt(i)) | 0;
  return Math.abs(hash) % HUES;
}

export function Avatar({ id, name, size = "md" }: { id: string; name: string; size?: "sm" | "md" }) {
  const initial = Array.from(name.trim())[0]?.toUpperCase() ?? "?";
  return (
    <span className={`avatar avatar-${size} hue-${hueOf(id)}`} aria-hidden="true">
      {initial}
    </span>
  );
}
