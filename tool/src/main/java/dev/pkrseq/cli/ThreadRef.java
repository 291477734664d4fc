package dev.pkrseq.cli;

/**
 * A thread in JSON: the shape every document uses for one.
 *
 * @param name the thread's name
 * @param tid its kernel task id
 */
record ThreadRef(String name, int tid) {
}
