"""The lecture's text pipeline on its three sentences: words → indices → N×T matrix → N×T×D.

Run:  python examples/seed_sentences.py

1. ``Tokenizer`` splits each sentence into lower-case words (punctuation removed) and numbers
   them by frequency, most frequent first ("i" appears three times, "and" twice), ties in
   order of first appearance; index 0 is never used: it is reserved for padding.
2. ``texts_to_sequences`` turns each sentence into its list of indices. (The lecture's
   illustration numbers words by first appearance, ``[1, 2, 3, 4, 5]``; Keras's
   ``Tokenizer``, and this one, order by frequency, so "and" is 2.)
3. ``pad_sequences`` fills the shorter sentences with zeros (before them by default) into an
   N×T matrix, T the longest sentence's length.
4. ``Embedding`` maps every index to a D-dimensional vector: an N×T×D tensor, learnt by
   gradient descent with the rest of the network. With ``mask_zero=True`` the padding is
   marked so that recurrent layers skip it.

Every stage is printed and checked.
"""

import numpy as np

import cnnkit as keras
from cnnkit.preprocessing.sequence import pad_sequences
from cnnkit.preprocessing.text import Tokenizer

sentences = [
    "I like eggs and ham.",
    "I love chocolate and bunnies.",
    "I hate onions.",
]

tokenizer = Tokenizer()
tokenizer.fit_on_texts(sentences)
print("1. word_index:", tokenizer.word_index)
assert list(tokenizer.word_index)[:2] == ["i", "and"]

sequences = tokenizer.texts_to_sequences(sentences)
print("2. sequences: ", sequences)
assert sequences == [[1, 3, 4, 2, 5], [1, 6, 7, 2, 8], [1, 9, 10]]

padded = pad_sequences(sequences)
print("3. padded N×T matrix (padding='pre'):")
print(padded)
assert padded.shape == (3, 5) and padded[2].tolist() == [0, 0, 1, 9, 10]
print("   padding='post':")
print(pad_sequences(sequences, padding="post"))

keras.utils.set_random_seed(0)
vocab_size = len(tokenizer.word_index) + 1  # + 1: index 0 is the padding
embedding = keras.layers.Embedding(vocab_size, 3, mask_zero=True)
vectors = embedding(padded)
print(f"4. embeddings N×T×D = {vectors.shape}; sentence 3, word 'onions':")
print(np.round(vectors.numpy()[2, 4], 4))
print("   padding mask:")
print(vectors._keras_mask.astype(int))
assert vectors.shape == (3, 5, 3)
np.testing.assert_array_equal(vectors.numpy()[2, 4], embedding.embeddings.numpy()[10])
assert vectors._keras_mask[2].tolist() == [False, False, True, True, True]
print("round trip:", tokenizer.sequences_to_texts(sequences))
