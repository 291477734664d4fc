package dev.pkrseq;

/**
 * A native call that failed: the one exception type of the native layer.
 *
 * <p>It carries the C function's name, the arguments that matter (already rendered, for example
 * {@code 0x7f3a1c000000, 12288, PROT_READ, key 3}), and errno by number, by name and as text:
 * {@code pkey_mprotect(0x7f3a1c000000, 12288, PROT_READ, key 3) failed: ENOMEM (Cannot allocate memory)}.
 * Callers compare {@link #errno()} with an {@link Errno} constant; they never parse the message.
 */
public class NativeException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** The C function or system call that failed. */
    private final String call;
    /** Its arguments, in C terms. */
    private final String arguments;
    /** The errno number it failed with. */
    private final int errnoValue;

    /**
     * Creates the exception for a failed call.
     *
     * @param call the C function, for example {@code "pkey_mprotect"}
     * @param arguments the rendered arguments, without parentheses
     * @param errnoValue the errno the call left behind
     */
    public NativeException(String call, String arguments, int errnoValue) {
        super(call + "(" + arguments + ") failed: " + Errno.of(errnoValue).name() + describe(errnoValue));
        this.call = call;
        this.arguments = arguments;
        this.errnoValue = errnoValue;
    }

    private static String describe(int errnoValue) {
        Errno e = Errno.of(errnoValue);
        return e == Errno.UNKNOWN ? " (errno " + errnoValue + ")" : " (" + e.text() + ")";
    }

    /**
     * The C function that failed.
     *
     * @return for example {@code "pkey_free"}
     */
    public String call() {
        return call;
    }

    /**
     * The arguments as the message shows them.
     *
     * @return the rendered arguments, without parentheses
     */
    public String arguments() {
        return arguments;
    }

    /**
     * errno by name.
     *
     * @return the constant, or {@link Errno#UNKNOWN} for a number outside the table
     */
    public Errno errno() {
        return Errno.of(errnoValue);
    }

    /**
     * errno as a number.
     *
     * @return the raw value the call left behind
     */
    public int errnoValue() {
        return errnoValue;
    }
}
