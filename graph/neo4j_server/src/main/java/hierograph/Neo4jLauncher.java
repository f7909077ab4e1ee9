package hierograph;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.logging.Level;
import org.neo4j.logging.log4j.Log4jLogProvider;

/**
 * Runs an embedded Neo4j DBMS with its Bolt connector, so a plain JVM built from Maven Central
 * jars behaves like a local Neo4j server.
 *
 * Usage: Neo4jLauncher HOME CONF USER; the password comes from $HIEROGRAPH_NEO4J_PASSWORD so it
 * never shows up in `ps`. All settings (port, memory, auth) live in CONF, written by the Python
 * side. Prints READY_LINE once Bolt is up and the credentials are in place.
 */
public final class Neo4jLauncher {
    static final String READY_LINE = "HIEROGRAPH-NEO4J-READY";

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: Neo4jLauncher HOME CONF USER");
            System.exit(2);
        }
        Path home = Path.of(args[0]);
        Path conf = Path.of(args[1]);
        String user = args[2];
        String password = System.getenv("HIEROGRAPH_NEO4J_PASSWORD");
        if (password == null || password.isEmpty()) {
            System.err.println("HIEROGRAPH_NEO4J_PASSWORD is not set");
            System.exit(2);
        }

        DatabaseManagementService dbms;
        try {
            dbms = new DatabaseManagementServiceBuilder(home)
                    .loadPropertiesFromFile(conf)
                    // Without a user log provider the embedded DBMS stays silent; send it to
                    // stdout, which the Python side redirects to logs/launcher.log.
                    .setUserLogProvider(new Log4jLogProvider(System.out, Level.INFO))
                    .build();
        } catch (Throwable e) {
            // Exit explicitly: threads a half-started DBMS leaves behind could keep the JVM up.
            e.printStackTrace();
            System.exit(1);
            return;
        }

        CountDownLatch stopped = new CountDownLatch(1);
        // SIGTERM/SIGINT run this hook; shutting down cleanly flushes the page cache and
        // checkpoints, so the next start needs no recovery.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("hierograph-neo4j: shutting down");
            dbms.shutdown();
            System.out.println("hierograph-neo4j: stopped");
            System.out.flush();
            stopped.countDown();
        }, "hierograph-neo4j-shutdown"));

        try {
            long t0 = System.nanoTime();
            setCredentials(dbms.database("system"), user, password);
            System.out.printf("hierograph-neo4j: credentials for '%s' set in %d ms%n",
                    user, (System.nanoTime() - t0) / 1_000_000);
        } catch (Throwable e) {
            e.printStackTrace();
            System.exit(1); // the hook shuts the DBMS down
        }
        System.out.println(READY_LINE);
        System.out.flush();
        stopped.await();
    }

    /**
     * Embedded transactions bypass auth, so they can (re)set the password without knowing the
     * old one. Runs at every start (idempotent), so a changed password takes effect on restart.
     * One statement only: compiling each administration command costs seconds on a cold JVM.
     */
    private static void setCredentials(GraphDatabaseService system, String user, String password) {
        Map<String, Object> params = Map.of("user", user, "password", password);
        if (!user.equals("neo4j")) {
            // Community has no roles, so replacing the user loses nothing.
            system.executeTransactionally(
                    "CREATE OR REPLACE USER $user SET PASSWORD $password CHANGE NOT REQUIRED", params);
            return;
        }
        try {
            system.executeTransactionally(
                    "ALTER USER neo4j SET PASSWORD $password CHANGE NOT REQUIRED", params);
        } catch (RuntimeException e) {
            // Re-setting the current password is rejected ("Old password and new password
            // cannot be the same"), which just means it is already right.
            if (!String.valueOf(e.getMessage()).contains("cannot be the same")) {
                throw e;
            }
        }
    }
}
