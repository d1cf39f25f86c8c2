fn main() {
    lifeline_console::start();
}
