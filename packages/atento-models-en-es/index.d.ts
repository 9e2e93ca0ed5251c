/** Path of the English <-> Spanish Marian translation model. */
export const translate: string;
/** Path of the bilingual tutor chat model. */
export const chat: string;
/** Path of the English <-> Spanish dictionary (the tutor's lookup tool). */
export const dictionary: string;
