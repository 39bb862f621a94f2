import { StatusBar } from './views/StatusBar';

export function App() {
  return (
    <div className="app" data-testid="main-view">
      <header className="app-header">
        <h1>Kotaro</h1>
      </header>
      <main className="app-main">
        <section className="drop-zone" aria-label="Drop images here">
          <p>Drop images here to describe them and write comments.</p>
        </section>
      </main>
      <StatusBar />
    </div>
  );
}
