/**
 * The executable jar's entry point, compiled for Java 8 so that an old {@code java -jar} says which JDK
 * pkrseq needs instead of failing with a class-version error.
 */
package dev.pkrseq.launch;
