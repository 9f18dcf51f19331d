// The emoji the picker offers: a dozen that cover most reactions, one tap each. The gateway takes
// any single emoji; these are the ones worth a button.
export const REACTION_EMOJI = ["👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "👀", "🔥", "✅", "👏", "🤔"] as const;

// A finger held this long on a message opens its actions on a touch screen.
export const LONG_PRESS_MS = 500;
