// Renders every *.vtl file of a directory with stock Apache Velocity 1.7 and an empty
// context, writing NAME.out beside it (or NAME.err with the exception's first line). Used by
// tests/velocity_diff.rs to compare Tollgate's engine with the reference implementation.
//
//   javac -cp velocity-1.7.jar:commons-collections3.jar:commons-lang.jar -d OUT Render.java
//   java -cp OUT:... Render DIR
import java.io.File;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Arrays;
import org.apache.velocity.VelocityContext;
import org.apache.velocity.app.VelocityEngine;

public class Render {
    public static void main(String[] args) throws Exception {
        VelocityEngine engine = new VelocityEngine();
        // Quiet: no velocity.log file in the working directory.
        engine.setProperty("runtime.log.logsystem.class",
                "org.apache.velocity.runtime.log.NullLogChute");
        engine.init();
        File[] files = new File(args[0]).listFiles((d, n) -> n.endsWith(".vtl"));
        if (files == null) {
            throw new IllegalArgumentException("not a directory: " + args[0]);
        }
        Arrays.sort(files);
        for (File f : files) {
            String name = f.getName().substring(0, f.getName().length() - 4);
            String src = new String(Files.readAllBytes(f.toPath()), StandardCharsets.UTF_8);
            StringWriter out = new StringWriter();
            try {
                engine.evaluate(new VelocityContext(), out, name, src);
                Files.write(new File(args[0], name + ".out").toPath(),
                        out.toString().getBytes(StandardCharsets.UTF_8));
            } catch (Exception e) {
                String msg = e.getClass().getName() + ": " + String.valueOf(e.getMessage()).split("\n")[0];
                Files.write(new File(args[0], name + ".err").toPath(),
                        msg.getBytes(StandardCharsets.UTF_8));
            }
        }
    }
}
