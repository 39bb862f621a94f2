// Parsing the model's answers: the usual list shapes in English and Japanese, preambles,
// continuation lines, quotes, and the fallback when there is no list at all.
import { describe, expect, it } from 'vitest';
import { parseComments, parseDescription } from '../../gpu-worker/analysis/answer-parser.js';

describe('parseComments', () => {
  it.each([
    ['1. One\n2. Two\n3. Three', ['One', 'Two', 'Three']],
    ['1) One\n2) Two', ['One', 'Two']],
    ['(1) One\n(2) Two', ['One', 'Two']],
    ['１．すてき！\n２．光がきれい\n３．行ってみたい', ['すてき！', '光がきれい', '行ってみたい']],
    ['1、すてき\n2、きれい', ['すてき', 'きれい']],
    ['**1.** Bold\n**2.** Also', ['Bold', 'Also']],
    ['- dash\n* star\n• dot\n・なかぐろ', ['dash', 'star', 'dot', 'なかぐろ']],
    ['Comment 1: first\nComment 2: second', ['first', 'second']],
    ['1. "Quoted"\n2. 「かぎ括弧」\n3. “curly”', ['Quoted', 'かぎ括弧', 'curly']],
  ])('%j', (raw, expected) => {
    expect(parseComments(raw, 10)).toEqual(expected);
  });

  it('drops a preamble and joins continuation lines', () => {
    expect(parseComments('Here are three comments:\n\n1. The light on the water\n   is stunning.\n2. Love it\n\n3. Wow', 3))
      .toEqual(['The light on the water is stunning.', 'Love it', 'Wow']);
  });

  it('keeps at most the requested number, without duplicates', () => {
    expect(parseComments('1. a\n2. a\n3. b\n4. c\n5. d', 3)).toEqual(['a', 'b', 'c']);
  });

  it('falls back to one comment per line when there is no list', () => {
    expect(parseComments('Great shot!\n\nThe colours pop.\n', 5)).toEqual(['Great shot!', 'The colours pop.']);
    expect(parseComments('   \n', 3)).toEqual([]);
  });

  it('does not mistake a year or a number inside text for a marker', () => {
    expect(parseComments('2026年の夏、最高！\n1. ok', 3)).toEqual(['ok']);
  });
});

describe('parseDescription', () => {
  it('strips labels, quotes and whitespace', () => {
    expect(parseDescription('  Description: "A cat on a sofa."\n')).toBe('A cat on a sofa.');
    expect(parseDescription('**Caption:** Sunset.')).toBe('Sunset.');
    expect(parseDescription('説明：夕焼けの海。')).toBe('夕焼けの海。');
    expect(parseDescription('A plain answer.\nWith two lines.')).toBe('A plain answer.\nWith two lines.');
  });
});
