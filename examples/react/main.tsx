import { useRecommendations, useRecommender } from 'edgerec/react';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';

function Feed() {
  const rec = useRecommender({ bundleUrl: '/models/', userId: 'reader-1' });
  const { result, error, refresh } = useRecommendations({ k: 12 }, rec.recommender);
  if (rec.state === 'error' || error) return <p role="alert">{(rec.error ?? error)?.message}</p>;
  if (!result) return <p>Loading the model bundle… {rec.progress?.phase}</p>;
  const save = (itemId: string) => rec.recommender?.record({ itemId, action: 'save' }).then(refresh);
  return (
    <>
      <p>
        Backend: <output>{`retrieval: ${result.backend.retrieval}, ranker: ${result.backend.ranker}`}</output>
      </p>
      <ul>
        {result.items.map((item) => (
          <li key={item.itemId}>
            {item.title} — {item.reason.text}
            <button type="button" onClick={() => save(item.itemId)}>
              Save
            </button>
          </li>
        ))}
      </ul>
    </>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <h1>Recommended for you</h1>
    <Feed />
  </StrictMode>,
);
