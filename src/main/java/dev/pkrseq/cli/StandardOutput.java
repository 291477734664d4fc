package dev.pkrseq.cli;

import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.charset.Charset;

/**
 * This process's standard output as a {@link PrintWriter} that remembers why a write failed.
 * {@code System.out} swallows the {@link IOException} and keeps only a flag; the reason (a closed pipe,
 * a full disk, a closed descriptor) is what the user needs to hear.
 */
final class StandardOutput extends PrintWriter {
    private final Sink sink;

    private StandardOutput(Sink sink, Charset charset) {
        super(new OutputStreamWriter(new BufferedOutputStream(sink), charset), true);
        this.sink = sink;
    }

    /** Standard output in the encoding {@code System.out} uses. */
    static StandardOutput open() {
        return new StandardOutput(new Sink(new FileOutputStream(FileDescriptor.out)), System.out.charset());
    }

    /**
     * Why the first failed write failed.
     *
     * @return the operating system's words, for example "Broken pipe", or null when no write failed
     */
    String failure() {
        IOException e = sink.failure;
        return e == null ? null : e.getMessage();
    }

    /** Passes bytes on and keeps the first failure. */
    private static final class Sink extends OutputStream {
        private final OutputStream out;
        private volatile IOException failure;

        Sink(OutputStream out) {
            this.out = out;
        }

        @Override
        public void write(int b) throws IOException {
            try {
                out.write(b);
            } catch (IOException e) {
                throw remember(e);
            }
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            try {
                out.write(b, off, len);
            } catch (IOException e) {
                throw remember(e);
            }
        }

        @Override
        public void flush() throws IOException {
            try {
                out.flush();
            } catch (IOException e) {
                throw remember(e);
            }
        }

        private IOException remember(IOException e) {
            if (failure == null) {
                failure = e;
            }
            return e;
        }
    }
}
